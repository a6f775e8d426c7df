//! Rules for the identifiers callers choose (user, device, group and certificate names), so that
//! they are safe in URLs, logs and conversation ids (`c2c:<user>`, `group:<group>`).

use crate::Invalid;

/// Longest identifier accepted.
pub const MAX_ID_LEN: usize = 128;

/// Checks a caller-chosen identifier: 1 to 128 characters of `A-Z a-z 0-9 _ . @ -`.
pub fn check_id(field: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new(
            field,
            "invalid_id",
            format!("`{field}` must not be empty"),
        ));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Invalid::new(
            field,
            "invalid_id",
            format!("`{field}` is longer than {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')))
    {
        return Err(Invalid::new(
            field,
            "invalid_id",
            format!("`{field}` contains `{bad}`; use letters, digits, `_`, `.`, `@` and `-` only"),
        ));
    }
    Ok(())
}

/// Checks a free-text name (app, group): 1 to 128 characters, no control characters.
pub fn check_name(field: &str, value: &str) -> Result<(), Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(
            field,
            "invalid_field",
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(Invalid::new(
            field,
            "invalid_field",
            format!("`{field}` is longer than {MAX_ID_LEN} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            "invalid_field",
            format!("`{field}` must not contain control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_safe_alphabet_and_refuse_the_rest() {
        assert!(check_id("user", "alice.smith@example-1_2").is_ok());
        assert_eq!(check_id("user", "").map_err(|e| e.code), Err("invalid_id"));
        assert!(check_id("user", "a b").is_err());
        assert!(check_id("user", "a/b").is_err());
        assert!(check_id("user", "c2c:bob").is_err());
        assert!(check_id("user", &"x".repeat(129)).is_err());
    }
}
