//! A deserializer's refusal in the caller's words. serde says "unknown field `nom`, expected
//! `name`" or "invalid type: string \"long\", expected u32", naming Rust types and leaving out
//! where in the input it happened; a caller sending JSON (or a query string) needs the field
//! and the kind of value it takes. [`describe`] combines serde's message with the path
//! `serde_path_to_error` tracked into one [`ApiError`] whose `field` names the field.
//!
//! serde's messages are parsed by their fixed wording (`serde::de::Error`'s provided methods:
//! `unknown_field`, `missing_field`, `invalid_type`…); anything else is passed on as it is,
//! prefixed with the field.

use crate::error::ApiError;
use serde_path_to_error::{Path, Segment};

/// What was being read: the words for it, and the codes its mistakes get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// A JSON request body.
    Body,
    /// A WebSocket text frame.
    Frame,
    /// A URL query string.
    Query,
}

impl Input {
    /// The input as a whole, as the subject of a sentence.
    fn whole(self) -> &'static str {
        match self {
            Input::Body => "the body",
            Input::Frame => "the frame",
            Input::Query => "the query",
        }
    }

    /// What a field is called in this input.
    fn field_word(self) -> &'static str {
        match self {
            Input::Query => "parameter",
            Input::Body | Input::Frame => "field",
        }
    }

    /// Where an unknown field was not expected.
    fn container(self) -> &'static str {
        match self {
            Input::Body => "this request body",
            Input::Frame => "this frame",
            Input::Query => "this route's query",
        }
    }

    /// The code of a mistake of `kind` (`unknown_field`, `missing_field` or a value that does
    /// not fit). A query keeps one code for all of them, as before.
    fn code(self, kind: &Kind) -> &'static str {
        match (self, kind) {
            (Input::Query, _) => "invalid_query",
            (_, Kind::UnknownField { .. }) => "unknown_field",
            (_, Kind::MissingField { .. }) => "missing_field",
            (Input::Body, _) => "invalid_body",
            (Input::Frame, _) => "malformed_frame",
        }
    }
}

/// The kinds of refusal serde words in a fixed way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    UnknownField {
        name: String,
        accepted: Vec<String>,
    },
    MissingField {
        name: String,
    },
    DuplicateField {
        name: String,
    },
    /// `invalid type` and `invalid value`: what was sent, what the field takes.
    Mismatch {
        found: String,
        expected: String,
    },
    UnknownVariant {
        name: String,
        accepted: Vec<String>,
    },
    Other(String),
}

/// The answer to text that is not JSON at all: serde_json's message, which gives the position
/// ("expected `,` or `}` at line 1 column 12"), said once.
pub(crate) fn not_json(input: Input, error: &serde_json::Error) -> ApiError {
    let code = match input {
        Input::Frame => "malformed_frame",
        Input::Body | Input::Query => "malformed_json",
    };
    ApiError::bad_request(code, format!("{} is not valid JSON: {error}", input.whole()))
}

/// An answer for `message` (serde's text, without a position) raised at `path`.
pub(crate) fn describe(input: Input, path: &Path, message: &str) -> ApiError {
    describe_at(input, field_path(path), message)
}

/// Whether `message` is about a value (of the wrong type, not among the accepted ones…)
/// rather than about a field that is missing or unknown: only then does its path name the
/// field to blame.
pub(crate) fn is_about_a_value(message: &str) -> bool {
    matches!(
        classify(message),
        Kind::Mismatch { .. } | Kind::UnknownVariant { .. } | Kind::Other(_)
    )
}

/// As [`describe`], at the field named by `segments` (object keys from the outside in).
pub(crate) fn describe_at(input: Input, segments: Vec<String>, message: &str) -> ApiError {
    let kind = classify(message);
    let code = input.code(&kind);
    let (field, sentence) = match &kind {
        Kind::UnknownField { name, accepted } => {
            // The path ends with the unknown key itself when the key was read through a tracked
            // map; otherwise it names the object holding it.
            let parent = match segments.last() {
                Some(last) if last == name => &segments[..segments.len() - 1],
                _ => &segments[..],
            };
            let within = if parent.is_empty() {
                input.container().to_string()
            } else {
                format!("`{}`", parent.join("."))
            };
            let accepted = if accepted.is_empty() {
                format!("it takes no {}s", input.field_word())
            } else {
                format!("the accepted {}s are {}", input.field_word(), ticked(accepted))
            };
            (
                join(parent, name),
                format!("`{name}` is not a {} of {within}; {accepted}", input.field_word()),
            )
        }
        Kind::MissingField { name } => {
            let field = join(&segments, name);
            (field.clone(), format!("`{field}` is missing; it is required"))
        }
        Kind::DuplicateField { name } => {
            let field = join(&segments, name);
            (field.clone(), format!("`{field}` is given more than once"))
        }
        Kind::Mismatch { found, expected } => {
            let subject = subject(input, &segments);
            (
                segments.join("."),
                format!(
                    "{subject} must be {}, not {}",
                    plain_type(expected),
                    plain_found(found)
                ),
            )
        }
        Kind::UnknownVariant { name, accepted } => {
            let subject = subject(input, &segments);
            let choices = if accepted.is_empty() {
                "nothing is accepted here".to_string()
            } else {
                format!("it must be one of {}", ticked(accepted))
            };
            (
                segments.join("."),
                format!("{subject} cannot be `{name}`; {choices}"),
            )
        }
        Kind::Other(text) => {
            let subject = subject(input, &segments);
            let sentence = match parsed_as(text) {
                Some(takes) => format!("{subject} must be {takes} ({text})"),
                None => format!("{subject}: {text}"),
            };
            (segments.join("."), sentence)
        }
    };
    let error = ApiError::bad_request(code, sentence);
    if field.is_empty() {
        error
    } else {
        error.with_field(field)
    }
}

/// `the body`, or the field in backticks.
fn subject(input: Input, segments: &[String]) -> String {
    if segments.is_empty() {
        input.whole().to_string()
    } else {
        format!("`{}`", segments.join("."))
    }
}

/// The names along `path`: object keys, and list positions as `[i]` on the name before.
fn field_path(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => names.push(key.clone()),
            Segment::Enum { variant } => names.push(variant.clone()),
            Segment::Seq { index } => match names.last_mut() {
                Some(last) => last.push_str(&format!("[{index}]")),
                None => names.push(format!("[{index}]")),
            },
            Segment::Unknown => {}
        }
    }
    names
}

fn join(parent: &[String], name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{}.{name}", parent.join("."))
    }
}

/// "`a`, `b`, `c`".
fn ticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names between backticks in `text`, in order.
fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Sorts serde's message into a [`Kind`] by its fixed wording.
fn classify(message: &str) -> Kind {
    if let Some((name, expected)) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    {
        return Kind::UnknownField {
            name: name.to_string(),
            accepted: backticked(expected),
        };
    }
    if let Some((name, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once('`'))
    {
        return Kind::UnknownVariant {
            name: name.to_string(),
            accepted: backticked(expected),
        };
    }
    for (prefix, make) in [
        (
            "missing field `",
            (|name| Kind::MissingField { name }) as fn(String) -> Kind,
        ),
        ("duplicate field `", |name| Kind::DuplicateField { name }),
    ] {
        if let Some(name) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('`'))
        {
            return make(name.to_string());
        }
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            return Kind::Mismatch {
                found: found.to_string(),
                expected: expected.to_string(),
            };
        }
    }
    Kind::Other(message.to_string())
}

/// What a value read from text (a query parameter) had to be, from the standard library's
/// parse errors, which do not say.
fn parsed_as(text: &str) -> Option<&'static str> {
    match text {
        "invalid digit found in string"
        | "cannot parse integer from empty string"
        | "number too large to fit in target type"
        | "number too small to fit in target type" => Some("a whole number in range"),
        "invalid float literal" => Some("a number"),
        "provided string was not `true` or `false`" => Some("true or false"),
        _ => None,
    }
}

/// What a field takes, in words for someone writing JSON rather than Rust.
pub(crate) fn plain_type(expected: &str) -> String {
    let words = match expected {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" | "string" => "a string",
        "a boolean" | "bool" => "true or false",
        "a character" | "char" => "a single character",
        "a sequence" | "sequence" => "a list",
        "a map" | "map" | "a JSON object" => "a JSON object",
        "unit" => "null",
        "variant identifier" => "one of the accepted values (a string)",
        other
            if other.starts_with("struct ")
                || other.starts_with("internally tagged enum ")
                || other.starts_with("struct variant ") =>
        {
            "a JSON object"
        }
        other if other.starts_with("tuple") => "a list",
        other if other.starts_with("enum ") => "one of the accepted values",
        other => return other.to_string(),
    };
    words.to_string()
}

/// What was sent, as the caller wrote it (serde says "integer `5`", "string \"x\"").
fn plain_found(found: &str) -> String {
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(value) = found.strip_prefix(prefix) {
            return value.trim_matches('`').to_string();
        }
    }
    if let Some(text) = found.strip_prefix("string ") {
        return text.to_string();
    }
    match found {
        "sequence" => "a list".to_string(),
        "map" => "an object".to_string(),
        "null" | "unit value" | "unit" => "null".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_sorted_by_their_wording() {
        assert_eq!(
            classify("unknown field `nom`, expected `name`"),
            Kind::UnknownField {
                name: "nom".into(),
                accepted: vec!["name".into()]
            }
        );
        assert_eq!(
            classify("unknown field `x`, expected one of `a`, `b`, `c`"),
            Kind::UnknownField {
                name: "x".into(),
                accepted: vec!["a".into(), "b".into(), "c".into()]
            }
        );
        assert_eq!(
            classify("unknown field `x`, there are no fields"),
            Kind::UnknownField {
                name: "x".into(),
                accepted: vec![]
            }
        );
        assert_eq!(
            classify("missing field `name`"),
            Kind::MissingField { name: "name".into() }
        );
        assert_eq!(
            classify("invalid type: string \"a, expected b\", expected u32"),
            Kind::Mismatch {
                found: "string \"a, expected b\"".into(),
                expected: "u32".into()
            }
        );
        assert_eq!(classify("must be HH:MM"), Kind::Other("must be HH:MM".into()));
    }

    #[test]
    fn rust_types_become_plain_words() {
        assert_eq!(plain_type("u32"), "a whole number from 0 to 4294967295");
        assert_eq!(plain_type("struct PushInfo"), "a JSON object");
        assert_eq!(plain_type("a URL"), "a URL");
        assert_eq!(plain_found("integer `5`"), "5");
        assert_eq!(plain_found("string \"long\""), "\"long\"");
        assert_eq!(plain_found("sequence"), "a list");
    }
}
