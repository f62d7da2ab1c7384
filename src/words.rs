//! Words for messages: "1 row" and "2 rows", "a missing check" and "an invalid check".

/// `n` and the noun, singular for one: `count(1, "row")` is "1 row".
pub fn count(n: impl std::fmt::Display, noun: &str) -> String {
    let text = n.to_string();
    if text == "1" {
        format!("{text} {noun}")
    } else {
        format!("{text} {noun}s")
    }
}

/// "a" or "an", as the word after it is spoken (by its first letter: check types,
/// kinds and formats are plain English words).
pub fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_articles_read_as_english() {
        assert_eq!(count(1, "row"), "1 row");
        assert_eq!(count(0, "row"), "0 rows");
        assert_eq!(count("1,234", "row"), "1,234 rows");
        assert_eq!(article("invalid"), "an");
        assert_eq!(article("aggregate"), "an");
        assert_eq!(article("missing"), "a");
        assert_eq!(article("row_count"), "a");
    }
}
