//! Length and size limits: titles and bodies are cut on a character boundary (as vendors
//! display them), never the app's `ext` data.

/// Cuts `text` to at most `max_chars` characters, ending with `…` when it was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// Cuts `text` so that it loses at least `excess_bytes` bytes, on a character boundary, ending
/// with `…`. Returns `None` when the whole text would not be enough.
pub fn shrink_bytes(text: &str, excess_bytes: usize) -> Option<String> {
    let ellipsis = '…'.len_utf8();
    let target = text.len().checked_sub(excess_bytes + ellipsis)?;
    let mut end = target;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters_not_bytes() {
        assert_eq!(truncate_chars("你好世界", 3), "你好…");
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("😀😀😀", 2), "😀…");
    }

    #[test]
    fn shrinking_frees_the_bytes_asked_for_on_a_boundary() {
        let shrunk = shrink_bytes("你好世界你好世界", 4).expect("fits");
        assert!(shrunk.len() <= "你好世界你好世界".len() - 4);
        assert!(shrunk.ends_with('…'));
        assert_eq!(shrink_bytes("ab", 10), None);
    }
}
