//! The deterministic "rules engine" behind Warden's AI routes, used when no LLM is
//! configured: log clustering and analysis ([`logs`]), text similarity for incident and
//! knowledge "memory" ([`similarity`]), the questions the chat route can answer
//! ([`chat`]) and correlation-based root cause ([`root_cause`]).
//!
//! Everything here is a pure function of its inputs (times included), so the same data
//! always gives the same answer and the routes can mark their responses
//! `"engine": "rules"`. User-facing text comes out in the configured [`Lang`].

pub mod chat;
pub mod logs;
pub mod root_cause;
pub mod similarity;

mod text;

/// The language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `en`, `en-US`, `EN_gb`… give English; anything else gives Chinese, because the
    /// default locale is `zh-CN`.
    pub fn from_locale(locale: &str) -> Lang {
        let locale = locale.trim();
        let en = locale.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("en"));
        if en {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// Picks the text for this language.
    pub(crate) fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_en_prefix_is_english_and_everything_else_chinese() {
        assert_eq!(Lang::from_locale("en"), Lang::En);
        assert_eq!(Lang::from_locale("en-US"), Lang::En);
        assert_eq!(Lang::from_locale(" EN_gb"), Lang::En);
        assert_eq!(Lang::from_locale("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_locale(""), Lang::Zh);
        assert_eq!(Lang::from_locale("e"), Lang::Zh);
        assert_eq!(Lang::from_locale("fr-FR"), Lang::Zh);
        // A multi-byte first character must not split a char boundary.
        assert_eq!(Lang::from_locale("中文"), Lang::Zh);
    }
}
