//! Text similarity for Warden's "memory": finding resolved incidents and knowledge
//! entries that resemble a new problem. Bag-of-words cosine, with Chinese handled as
//! character bigrams because it has no spaces between words.

use std::collections::BTreeMap;

use super::text::is_cjk;

/// English words too common to say anything about a problem.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "here", "his", "how", "if", "in", "into", "is", "it", "its",
    "me", "my", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "why", "will", "with", "would", "you", "your",
];

/// Tokens for matching: lowercase ASCII words (at least 2 letters, stop words removed),
/// digits dropped, and CJK text as overlapping character bigrams (a CJK character with
/// no CJK neighbour stands alone).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphabetic() {
            word.push(c.to_ascii_lowercase());
        } else {
            flush_word(&mut word, &mut out);
        }
        if is_cjk(c) {
            cjk.push(c);
        } else {
            flush_cjk(&mut cjk, &mut out);
        }
    }
    out
}

fn flush_word(word: &mut String, out: &mut Vec<String>) {
    if word.len() >= 2 && !STOP_WORDS.contains(&word.as_str()) {
        out.push(std::mem::take(word));
    }
    word.clear();
}

fn flush_cjk(run: &mut Vec<char>, out: &mut Vec<String>) {
    match run.len() {
        0 => {}
        1 => out.push(run[0].to_string()),
        _ => out.extend(run.windows(2).map(|pair| pair.iter().collect::<String>())),
    }
    run.clear();
}

fn counts(text: &str) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for token in tokens(text) {
        *counts.entry(token).or_insert(0.0) += 1.0;
    }
    counts
}

fn cosine(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> f64 {
    let dot: f64 = a.iter().filter_map(|(t, x)| b.get(t).map(|y| x * y)).sum();
    let norm = |v: &BTreeMap<String, f64>| v.values().map(|x| x * x).sum::<f64>();
    let denominator = (norm(a) * norm(b)).sqrt();
    if denominator == 0.0 {
        return 0.0;
    }
    (dot / denominator).clamp(0.0, 1.0)
}

/// Cosine similarity of the token-count vectors of `a` and `b`, in `0.0..=1.0`; text with
/// no tokens is similar to nothing.
pub fn similarity(a: &str, b: &str) -> f64 {
    cosine(&counts(a), &counts(b))
}

/// The candidates `(id, text)` scoring at least `min_score`, best first, at most `limit`;
/// ties by id ascending. A candidate sharing no token with the query never matches,
/// even with `min_score` 0.
pub fn most_similar(
    query: &str,
    candidates: &[(i64, String)],
    min_score: f64,
    limit: usize,
) -> Vec<(i64, f64)> {
    let query = counts(query);
    let mut scored: Vec<(i64, f64)> = candidates
        .iter()
        .map(|(id, text)| (*id, cosine(&query, &counts(text))))
        .filter(|(_, score)| *score > 0.0 && *score >= min_score)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(limit);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_lowercase_words_drop_digits_and_stop_words() {
        assert_eq!(
            tokens("The DB-1 connection timed out after 30s"),
            ["db", "connection", "timed", "out"]
        );
        assert_eq!(tokens("a I x 42 ok"), ["ok"]);
    }

    #[test]
    fn cjk_text_becomes_bigrams() {
        assert_eq!(tokens("数据库连接"), ["数据", "据库", "库连", "连接"]);
        assert_eq!(tokens("磁盘 满"), ["磁盘", "满"]);
        assert_eq!(tokens("nginx宕机"), ["nginx", "宕机"]);
    }

    #[test]
    fn identical_is_one_and_disjoint_is_zero() {
        let text = "database connection pool exhausted";
        assert_eq!(similarity(text, text), 1.0);
        assert_eq!(similarity("数据库连接超时", "数据库连接超时"), 1.0);
        assert_eq!(similarity("disk full", "certificate expired"), 0.0);
        assert_eq!(similarity("", ""), 0.0);
        assert_eq!(similarity("the of 123", "the of 123"), 0.0);
    }

    #[test]
    fn partial_overlap_is_between() {
        // {disk, full, var} vs {disk, full, data}: 2 shared of 3 each.
        let score = similarity("disk full var", "disk full data");
        assert!((score - 2.0 / 3.0).abs() < 1e-12, "{score}");
        let zh = similarity("数据库连接超时", "数据库连接失败");
        assert!(zh > 0.5 && zh < 1.0, "{zh}");
    }

    #[test]
    fn most_similar_ranks_filters_and_limits() {
        let candidates = vec![
            (3, "nginx upstream timed out".to_string()),
            (1, "database connection timed out".to_string()),
            (2, "database connection timed out".to_string()),
            (4, "certificate expired".to_string()),
            (5, "数据库连接超时".to_string()),
        ];
        let found = most_similar("database connection timed out on db-1", &candidates, 0.1, 10);
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(found[0].1 > found[2].1);
        assert_eq!(most_similar("database connection timed out", &candidates, 0.1, 1).len(), 1);
        assert!(most_similar("database connection", &candidates, 0.99, 10).is_empty());
        assert!(most_similar("unrelated words", &candidates, 0.0, 10).is_empty());
        assert_eq!(most_similar("连接数据库超时", &candidates, 0.2, 10)[0].0, 5);
        assert!(most_similar("anything", &candidates, f64::NAN, 10).is_empty());
    }
}
