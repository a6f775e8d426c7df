//! Reading the served OpenAPI document in tests: following `$ref`s and checking a JSON value
//! against a schema (the JSON Schema keywords the document uses, except `pattern` and
//! `format`), so a test can say "this answer is what the document promises".

use serde_json::Value;

/// The schema a `$ref` names, or the schema itself.
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("not a schema reference: {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "dangling reference {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The component schema `name`.
pub fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(!schema.is_null(), "no schema {name} in the document");
    schema
}

/// Why `value` does not fit `schema` (empty: it fits).
pub fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(doc, schema, value, "$", &mut found);
    found
}

/// Panics unless `value` fits the component schema `name`.
pub fn assert_fits(doc: &Value, name: &str, value: &Value) {
    let found = violations(doc, component(doc, name), value);
    assert!(found.is_empty(), "{value}\ndoes not fit {name}: {found:#?}");
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let mut fail = |why: String| found.push(format!("{at}: {why}"));
    match &schema["type"] {
        Value::String(one) if !type_matches(one, value) => return fail(format!("not {one}: {value}")),
        Value::Array(any) if !any.iter().any(|t| type_matches(t.as_str().unwrap_or(""), value)) => {
            return fail(format!("not any of {any:?}: {value}"));
        }
        _ => {}
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        fail(format!("{value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64())
        && number < minimum
    {
        fail(format!("{number} is below {minimum}"));
    }
    if let (Some(min), Some(text)) = (schema["minLength"].as_u64(), value.as_str())
        && (text.chars().count() as u64) < min
    {
        fail(format!("shorter than {min}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                fail(format!("`{name}` is required"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, member) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(doc, property, member, &format!("{at}.{key}"), found),
                None if schema["additionalProperties"] == Value::Bool(false) => {
                    found.push(format!("{at}: `{key}` is not allowed"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), found);
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(doc, part, value, at, found);
    }
    if let Some(any_of) = schema["anyOf"].as_array()
        && !any_of.iter().any(|part| violations(doc, part, value).is_empty())
    {
        found.push(format!("{at}: fits none of anyOf"));
    }
    if let Some(one_of) = schema["oneOf"].as_array() {
        let fitting = one_of
            .iter()
            .filter(|part| violations(doc, part, value).is_empty())
            .count();
        if fitting != 1 {
            found.push(format!("{at}: fits {fitting} of oneOf, not exactly one"));
        }
    }
}
