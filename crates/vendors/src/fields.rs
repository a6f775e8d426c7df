//! Reading a certificate's vendor fields out of a JSON object with precise errors: which field
//! is missing, which has the wrong type, which is not known to the vendor.

use herald_core::Invalid;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A JSON object being read field by field. Keys that are read are remembered, so that
/// [`Fields::finish`] can refuse the ones no vendor rule asked for (typos must not pass silently).
pub(crate) struct Fields<'a> {
    map: &'a mut Map<String, Value>,
    read: BTreeSet<String>,
    vendor: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(vendor: &'static str, map: &'a mut Map<String, Value>) -> Self {
        Self {
            map,
            read: BTreeSet::new(),
            vendor,
        }
    }

    fn get(&mut self, key: &str) -> Option<&Value> {
        self.read.insert(key.to_string());
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A present, non-blank string.
    pub(crate) fn required_str(&mut self, key: &str) -> Result<String, Invalid> {
        self.optional_str(key)?.ok_or_else(|| {
            Invalid::new(
                key,
                "missing_field",
                format!("`{key}` is required for {} certificates", self.vendor),
            )
        })
    }

    /// A string if present; blank strings are refused.
    pub(crate) fn optional_str(&mut self, key: &str) -> Result<Option<String>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(Invalid::field(key, format!("`{key}` must not be blank")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Invalid::field(key, format!("`{key}` must be a string"))),
        }
    }

    /// A string of digits, given as a JSON string or number (vendor consoles show app ids as
    /// numbers, SDK snippets quote them). Stored back as a string.
    pub(crate) fn required_digits(&mut self, key: &str) -> Result<String, Invalid> {
        let value = match self.get(key) {
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(Invalid::field(key, format!("`{key}` must be a numeric id"))),
            None => {
                return Err(Invalid::new(
                    key,
                    "missing_field",
                    format!("`{key}` is required for {} certificates", self.vendor),
                ));
            }
        };
        if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::field(
                key,
                format!("`{key}` must be the numeric id shown in the vendor console"),
            ));
        }
        self.map.insert(key.to_string(), Value::String(value.clone()));
        Ok(value)
    }

    /// A small unsigned integer if present.
    pub(crate) fn optional_u8(&mut self, key: &str) -> Result<Option<u8>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| Invalid::field(key, format!("`{key}` must be a small whole number"))),
            Some(_) => Err(Invalid::field(key, format!("`{key}` must be a number"))),
        }
    }

    /// A JSON object, or a string holding one (service-account files are pasted as text).
    pub(crate) fn optional_object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, Invalid> {
        match self.get(key).cloned() {
            None => Ok(None),
            Some(Value::Object(obj)) => Ok(Some(obj)),
            Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(obj)) => Ok(Some(obj)),
                _ => Err(Invalid::field(
                    key,
                    format!("`{key}` must be a JSON object or its text"),
                )),
            },
            Some(_) => Err(Invalid::field(
                key,
                format!("`{key}` must be a JSON object or its text"),
            )),
        }
    }

    /// Writes a normalised value back (a default filled in, a derived id).
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        self.read.insert(key.to_string());
        self.map.insert(key.to_string(), value);
    }

    /// The keys read so far (the describe tests compare them with the declared fields).
    #[cfg(test)]
    pub(crate) fn read_keys(&self) -> &BTreeSet<String> {
        &self.read
    }

    /// Refuses keys no rule read.
    pub(crate) fn finish(self) -> Result<(), Invalid> {
        match self.map.keys().find(|k| !self.read.contains(*k)) {
            None => Ok(()),
            Some(unknown) => Err(Invalid::new(
                unknown.clone(),
                "unknown_field",
                format!("`{unknown}` is not a field of {} certificates", self.vendor),
            )),
        }
    }
}

/// `com.example.app`: the Android package / iOS bundle id shape.
pub(crate) fn check_package_name(field: &str, value: &str) -> Result<(), Invalid> {
    let segments: Vec<&str> = value.split('.').collect();
    let ok = segments.len() >= 2
        && segments.iter().all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Invalid::field(
            field,
            format!("`{value}` is not a package or bundle id like com.example.chat"),
        ))
    }
}

/// One of a fixed set of values.
pub(crate) fn check_one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), Invalid> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Invalid::field(
            field,
            format!("`{value}` is not allowed; use one of: {}", allowed.join(", ")),
        ))
    }
}

/// An `http`/`https` URL with a host.
pub(crate) fn check_http_url(field: &str, value: &str) -> Result<url::Url, Invalid> {
    let url = url::Url::parse(value)
        .map_err(|e| Invalid::new(field, "invalid_url", format!("`{value}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Invalid::new(
            field,
            "invalid_url",
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}
