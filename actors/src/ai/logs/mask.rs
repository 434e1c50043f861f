//! Masking the variable parts of a log message, so that lines which differ only in ids,
//! addresses, numbers or paths share one template.
//!
//! A hand-written scanner over characters: at each position that starts a token (not
//! glued to an ASCII letter or digit before it) the matchers are tried from the most
//! specific (URL, e-mail, UUID, IP) to the least (number); the first that matches
//! replaces the token with its placeholder. Everything else is copied, with runs of
//! whitespace collapsed to one space.

use crate::ai::text::truncate;

/// Templates longer than this are cut: a stack trace in one message must not make a
/// cluster key of many kilobytes.
const MAX_TEMPLATE_CHARS: usize = 300;

/// The message with variable parts masked: `<uuid>`, `<ip>`, `<hex>`, `<path>`, `<url>`,
/// `<email>`, `<str>` (quoted strings), `<time>` (dates and date-times, which would
/// otherwise leave fragments like `01T12` behind) and `<num>` (numbers, with units such
/// as `30s`, `512MB` or `95%`); whitespace collapsed; words kept.
pub fn template(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            continue;
        }
        if let Some((end, placeholder)) = token_at(&chars, i) {
            out.push_str(placeholder);
            i = end;
            continue;
        }
        // A word that matched nothing is copied whole, so no matcher fires in its middle.
        if c.is_ascii_alphanumeric() {
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    truncate(out.trim_end(), MAX_TEMPLATE_CHARS)
}

/// The end and placeholder of the variable token starting at `i`, if one does.
fn token_at(chars: &[char], i: usize) -> Option<(usize, &'static str)> {
    let c = chars[i];
    if c == '"' {
        return closing_quote(chars, i, '"').map(|end| (end, "<str>"));
    }
    let starts_token = i == 0 || !is_word(chars[i - 1]);
    if !starts_token {
        return None;
    }
    if c == '\'' {
        return closing_quote(chars, i, '\'').map(|end| (end, "<str>"));
    }
    url(chars, i)
        .map(|e| (e, "<url>"))
        .or_else(|| email(chars, i).map(|e| (e, "<email>")))
        .or_else(|| uuid(chars, i).map(|e| (e, "<uuid>")))
        .or_else(|| datetime(chars, i).map(|e| (e, "<time>")))
        .or_else(|| ipv4(chars, i).map(|e| (e, "<ip>")))
        .or_else(|| prefixed_hex(chars, i).map(|e| (e, "<hex>")))
        .or_else(|| path(chars, i).map(|e| (e, "<path>")))
        .or_else(|| hex_id(chars, i))
        .or_else(|| number(chars, i).map(|e| (e, "<num>")))
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn at(chars: &[char], i: usize) -> Option<char> {
    chars.get(i).copied()
}

/// Whether the token that ends before `end` stands alone on its right.
fn ends_token(chars: &[char], end: usize) -> bool {
    !at(chars, end).is_some_and(is_word)
}

/// The end (exclusive) of a quoted string opened at `i`. A single quote closes only
/// before a non-word character, so the apostrophe in "can't" never closes one.
fn closing_quote(chars: &[char], i: usize, quote: char) -> Option<usize> {
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == '\\' {
            j += 2;
            continue;
        }
        if chars[j] == quote && (quote == '"' || ends_token(chars, j + 1)) {
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

/// Characters that end a URL or path: whitespace, quotes, brackets and list separators,
/// and anything outside ASCII, since Chinese text usually follows a path without a space.
fn ends_locator(c: char) -> bool {
    c.is_whitespace()
        || !c.is_ascii()
        || matches!(c, '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '|')
}

/// The end of a URL or path starting at `from`, with trailing sentence punctuation left
/// out.
fn locator_end(chars: &[char], from: usize) -> usize {
    let mut end = from;
    while end < chars.len() && !ends_locator(chars[end]) {
        end += 1;
    }
    while end > from && matches!(chars[end - 1], '.' | ':' | '!' | '?') {
        end -= 1;
    }
    end
}

fn url(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    while at(chars, j).is_some_and(|c| c.is_ascii_alphabetic() || c == '+') {
        j += 1;
    }
    let scheme_ok = j > i && at(chars, j) == Some(':');
    if scheme_ok && at(chars, j + 1) == Some('/') && at(chars, j + 2) == Some('/') {
        return Some(locator_end(chars, j + 3));
    }
    None
}

fn email(chars: &[char], i: usize) -> Option<usize> {
    let local = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let mut j = i;
    while at(chars, j).is_some_and(local) {
        j += 1;
    }
    if j == i || at(chars, j) != Some('@') {
        return None;
    }
    let domain_start = j + 1;
    let mut end = domain_start;
    while at(chars, end).is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        end += 1;
    }
    while end > domain_start && chars[end - 1] == '.' {
        end -= 1;
    }
    let domain: String = chars[domain_start..end].iter().collect();
    let tld_ok = domain.rsplit_once('.').is_some_and(|(name, tld)| {
        !name.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
    });
    tld_ok.then_some(end)
}

fn uuid(chars: &[char], i: usize) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut j = i;
    for (n, len) in GROUPS.iter().enumerate() {
        if n > 0 {
            if at(chars, j) != Some('-') {
                return None;
            }
            j += 1;
        }
        for _ in 0..*len {
            if !at(chars, j).is_some_and(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            j += 1;
        }
    }
    ends_token(chars, j).then_some(j)
}

/// Digits from `i`, at most `max` of them: their end and value.
fn digits(chars: &[char], i: usize, max: usize) -> Option<(usize, u64)> {
    let mut j = i;
    let mut value: u64 = 0;
    while j - i < max && at(chars, j).is_some_and(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u64::from(chars[j]) - u64::from('0'));
        j += 1;
    }
    (j > i).then_some((j, value))
}

/// Exactly `n` digits from `i`: their end.
fn exact_digits(chars: &[char], i: usize, n: usize) -> Option<usize> {
    digits(chars, i, n).and_then(|(end, _)| (end - i == n).then_some(end))
}

/// `2024-05-01`, `2024/05/01`, optionally followed by a time (`T12:00:00.123Z`,
/// ` 12:00:00,123`, `+08:00`).
fn datetime(chars: &[char], i: usize) -> Option<usize> {
    let year_end = exact_digits(chars, i, 4)?;
    let sep = at(chars, year_end).filter(|c| matches!(c, '-' | '/'))?;
    let month_end = exact_digits(chars, year_end + 1, 2)?;
    if at(chars, month_end) != Some(sep) {
        return None;
    }
    let mut end = exact_digits(chars, month_end + 1, 2)?;
    let time_follows = matches!(at(chars, end), Some('T' | ' '))
        && exact_digits(chars, end + 1, 2).is_some()
        && at(chars, end + 3) == Some(':');
    if time_follows {
        end += 1;
        loop {
            match at(chars, end) {
                Some(c) if c.is_ascii_digit() || c == ':' => end += 1,
                Some('.' | ',') if at(chars, end + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    end += 1
                }
                _ => break,
            }
        }
        match at(chars, end) {
            Some('Z') => end += 1,
            Some('+' | '-') => {
                if let Some(hours) = exact_digits(chars, end + 1, 2) {
                    end = hours;
                    if at(chars, end) == Some(':') {
                        end = exact_digits(chars, end + 1, 2).unwrap_or(end);
                    }
                }
            }
            _ => {}
        }
    }
    ends_token(chars, end).then_some(end)
}

fn ipv4(chars: &[char], i: usize) -> Option<usize> {
    // "1.2.3.4.5" is a version, not an address, read from either end.
    if i > 0 && chars[i - 1] == '.' {
        return None;
    }
    let mut j = i;
    for n in 0..4 {
        if n > 0 {
            if at(chars, j) != Some('.') {
                return None;
            }
            j += 1;
        }
        let (end, value) = digits(chars, j, 3)?;
        if value > 255 {
            return None;
        }
        j = end;
    }
    if at(chars, j) == Some('.') && at(chars, j + 1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    if at(chars, j) == Some(':') {
        if let Some((end, _)) = digits(chars, j + 1, 5) {
            j = end;
        }
    }
    ends_token(chars, j).then_some(j)
}

fn prefixed_hex(chars: &[char], i: usize) -> Option<usize> {
    if at(chars, i) != Some('0') || !matches!(at(chars, i + 1), Some('x' | 'X')) {
        return None;
    }
    let mut j = i + 2;
    while at(chars, j).is_some_and(|c| c.is_ascii_hexdigit()) {
        j += 1;
    }
    (j > i + 2 && ends_token(chars, j)).then_some(j)
}

/// A run of at least 8 hex digits with at least one digit among them, so that words
/// spelled with the letters a–f stay words. All digits is a number, not an id.
fn hex_id(chars: &[char], i: usize) -> Option<(usize, &'static str)> {
    let mut j = i;
    while at(chars, j).is_some_and(|c| c.is_ascii_hexdigit()) {
        j += 1;
    }
    let run = &chars[i..j];
    if run.len() < 8 || !ends_token(chars, j) || !run.iter().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let all_digits = run.iter().all(|c| c.is_ascii_digit());
    Some((j, if all_digits { "<num>" } else { "<hex>" }))
}

fn path(chars: &[char], i: usize) -> Option<usize> {
    let c = at(chars, i)?;
    let next = at(chars, i + 1);
    let path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~');
    let absolute = c == '/' && next.is_some_and(path_char);
    let home = c == '~' && next == Some('/');
    let dotted = c == '.'
        && (next == Some('/')
            || next == Some('\\')
            || (next == Some('.') && matches!(at(chars, i + 2), Some('/' | '\\'))));
    let drive = c.is_ascii_alphabetic()
        && next == Some(':')
        && matches!(at(chars, i + 2), Some('\\' | '/'))
        && at(chars, i + 3) != Some('/');
    if absolute || home || dotted || drive {
        return Some(locator_end(chars, i));
    }
    // A relative path without a leading marker: "logs/app.log" — it needs a separator
    // and a file extension, so "TCP/IP" or "read/write" stay words.
    let end = locator_end(chars, i);
    let token: String = chars[i..end].iter().collect();
    let last = token.rsplit(['/', '\\']).next().unwrap_or("");
    let has_separator = token.contains('/') || token.contains('\\');
    let has_extension = last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let plain = token.chars().all(|c| path_char(c) || c == '/' || c == '\\');
    (has_separator && has_extension && plain).then_some(end)
}

/// A number: digits, an optional decimal part, and an optional unit (`%` or up to five
/// letters, as in `30s`, `512MB`, `12ms`, `3bytes`).
fn number(chars: &[char], i: usize) -> Option<usize> {
    let (mut j, _) = digits(chars, i, usize::MAX)?;
    if at(chars, j) == Some('.') {
        if let Some((end, _)) = digits(chars, j + 1, usize::MAX) {
            j = end;
        }
    }
    if at(chars, j) == Some('%') {
        return Some(j + 1);
    }
    let mut k = j;
    while at(chars, k).is_some_and(|c| c.is_ascii_alphabetic()) {
        k += 1;
    }
    if k - j <= 5 && ends_token(chars, k) {
        return Some(k);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) {
        assert_eq!(template(a), template(b), "{a:?} vs {b:?}");
    }

    #[test]
    fn each_kind_of_variable_gets_its_placeholder() {
        let cases = [
            ("request 550e8400-e29b-41d4-a716-446655440000 failed", "request <uuid> failed"),
            ("connect to 10.0.0.12:5432 refused", "connect to <ip> refused"),
            ("peer 192.168.1.1 gone", "peer <ip> gone"),
            ("trace id 4bf92f3577b34da6a3ce929d0e0e4736 done", "trace id <hex> done"),
            ("segfault at 0x7ffd1234", "segfault at <hex>"),
            (
                "cannot open /var/log/app.log: permission denied",
                "cannot open <path>: permission denied",
            ),
            ("reading C:\\data\\x.db", "reading <path>"),
            ("loaded ./conf/a.toml", "loaded <path>"),
            ("wrote logs/app.log", "wrote <path>"),
            ("GET https://api.example.com/v1/users?id=3 returned 502", "GET <url> returned <num>"),
            ("mail to ops@example.com bounced", "mail to <email> bounced"),
            ("user 'alice' not found", "user <str> not found"),
            ("key \"a b c\" missing", "key <str> missing"),
            (
                "took 30s and 512MB at 95% load, ratio 0.75",
                "took <num> and <num> at <num> load, ratio <num>",
            ),
            ("id=42 retries=3", "id=<num> retries=<num>"),
            ("worker-12 stopped", "worker-<num> stopped"),
            ("at 2024-05-01T12:00:00.123Z ok", "at <time> ok"),
            ("at 2024-05-01 12:00:00,123 ok", "at <time> ok"),
            ("since 2024/05/01 ok", "since <time> ok"),
            ("tz 2024-05-01T12:00:00+08:00 ok", "tz <time> ok"),
            ("  many   spaces\there  ", "many spaces here"),
        ];
        for (message, expected) in cases {
            assert_eq!(template(message), expected, "{message:?}");
        }
    }

    #[test]
    fn lines_differing_only_in_variables_share_a_template() {
        same(
            "Connection to 10.0.0.1:5432 timed out after 30s (attempt 3)",
            "Connection to 10.0.0.7:6432 timed out after 45s (attempt 12)",
        );
        same(
            "job 550e8400-e29b-41d4-a716-446655440000 wrote /data/a.csv",
            "job 123e4567-e89b-12d3-a456-426614174000 wrote /tmp/b/c.csv",
        );
        same("连接数据库 10.0.0.1 超时，耗时3000ms", "连接数据库 10.0.0.2 超时，耗时15ms");
        same("user \"bob\" logged in from 1.2.3.4", "user \"carol\" logged in from 5.6.7.8");
    }

    #[test]
    fn different_words_make_different_templates() {
        assert_ne!(template("connection refused"), template("connection reset"));
        assert_ne!(template("disk full on /dev/sda1"), template("disk ok on /dev/sda1"));
    }

    #[test]
    fn words_with_digits_inside_are_kept() {
        assert_eq!(
            template("http2 stream reset by utf8 decoder"),
            "http2 stream reset by utf8 decoder"
        );
        assert_eq!(template("deadlock detected"), "deadlock detected");
        assert_eq!(template("read/write TCP/IP error"), "read/write TCP/IP error");
        assert_eq!(template("can't connect, it's down"), "can't connect, it's down");
    }

    #[test]
    fn versions_and_oddities_do_not_panic_and_stay_stable() {
        for message in [
            "",
            " ",
            "\"unterminated",
            "'",
            "0x",
            "1.2.3.4.5",
            "999.1.1.1",
            "a@b",
            "@",
            "C:",
            "/",
            "~",
            "..",
            "数据库",
            "🔥 fire 🔥 at 3",
            "\\",
            "x\\",
        ] {
            let first = template(message);
            assert_eq!(first, template(message));
        }
        assert!(!template("v1.2.3.4.5 released").contains("<ip>"));
        assert!(!template("upgrade 1.2.3.4.5 done").contains("<ip>"));
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "word ".repeat(200);
        assert_eq!(template(&long).chars().count(), MAX_TEMPLATE_CHARS);
    }
}
