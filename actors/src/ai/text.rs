//! Small text helpers shared by the rules engine's modules.

use chrono::{DateTime, Utc};

use super::Lang;

/// At most `max` characters of `s`, with `…` marking a cut. Counts characters, not
/// bytes, so multi-byte text is never split inside a character.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether `needle` occurs in `hay` as a whole word: not glued to an ASCII letter or
/// digit on either side. CJK neighbours count as boundaries because Chinese text has no
/// spaces between words.
pub(crate) fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        !glued(before) && !glued(after)
    })
}

/// Whether `text` (already lowercase) contains any of `words` as a whole word or any of
/// `fragments` anywhere.
pub(crate) fn mentions(text: &str, words: &[&str], fragments: &[&str]) -> bool {
    words.iter().any(|w| contains_word(text, w)) || fragments.iter().any(|f| text.contains(f))
}

/// Whether `c` is a CJK ideograph, kana or hangul syllable.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// How long ago `then` was, in the coarsest unit that still says something.
pub(crate) fn ago(then: DateTime<Utc>, now: DateTime<Utc>, lang: Lang) -> String {
    let minutes = (now - then).num_minutes();
    match (minutes, lang) {
        (..=0, Lang::Zh) => "刚刚".to_string(),
        (..=0, Lang::En) => "just now".to_string(),
        (1..=59, Lang::Zh) => format!("{minutes} 分钟前"),
        (1..=59, Lang::En) => format!("{minutes} min ago"),
        (60..=2879, Lang::Zh) => format!("{} 小时前", minutes / 60),
        (60..=2879, Lang::En) => format!("{} h ago", minutes / 60),
        (_, Lang::Zh) => format!("{} 天前", minutes / 1440),
        (_, Lang::En) => format!("{} days ago", minutes / 1440),
    }
}

/// A list joined the way each language writes one.
pub(crate) fn join(items: &[String], lang: Lang) -> String {
    items.join(lang.pick("、", ", "))
}

/// The English word for `n` things.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A percentage with one decimal.
pub(crate) fn pct(value: f64) -> String {
    format!("{value:.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("数据库连接异常", 4), "数据库…");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abc", 0), "…");
    }

    #[test]
    fn whole_words_only() {
        assert!(contains_word("connection to db failed", "db"));
        assert!(contains_word("db", "db"));
        assert!(contains_word("连接db超时", "db"));
        assert!(!contains_word("dbus failed", "db"));
        assert!(!contains_word("shutdown", "down"));
        assert!(!contains_word("anything", ""));
    }

    #[test]
    fn ago_picks_a_unit() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let at = |m: i64| now - chrono::Duration::minutes(m);
        assert_eq!(ago(at(14), now, Lang::En), "14 min ago");
        assert_eq!(ago(at(14), now, Lang::Zh), "14 分钟前");
        assert_eq!(ago(at(180), now, Lang::En), "3 h ago");
        assert_eq!(ago(at(3 * 1440), now, Lang::Zh), "3 天前");
        assert_eq!(ago(at(-5), now, Lang::En), "just now");
    }
}
