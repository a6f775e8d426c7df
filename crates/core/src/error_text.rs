//! An error and its causes as one line, each text once.
//!
//! Library errors often repeat their cause: sqlx's "error returned from database: X" has X as
//! its `source()` too, so printing the chain (as `anyhow`'s `{:#}` does) gives "…: X: X". Herald's
//! own error types that wrap such an error put [`with_causes`] in their message and expose no
//! `source()`, so whoever prints them, by `Display` or by walking the chain, says each part once.

use std::error::Error;

/// `error`'s text followed by each cause whose text it does not already hold:
/// `error returned from database: (code: 14) unable to open database file`, not that twice.
pub fn with_causes(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let more = next.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::with_causes;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Adds(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let repeats = Repeats(std::io::Error::other("disk full"));
        assert_eq!(with_causes(&repeats), "outer: disk full");
        let adds = Adds(std::io::Error::other("disk full"));
        assert_eq!(with_causes(&adds), "outer: disk full");
    }
}
