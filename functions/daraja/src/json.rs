//! Strict, path-aware reading of JSON objects for the callback parsers.
//!
//! Values stay as raw JSON text (`&RawValue`) until a field is read, so numbers keep their exact
//! text and every error names the field it is about.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::callback::CallbackError;

/// The JSON kind of a raw value, from its first byte.
pub(crate) fn kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// A JSON object's members in document order, values unparsed.
pub(crate) struct RawObject<'a> {
    pub(crate) path: String,
    members: Vec<(String, &'a RawValue)>,
}

struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

impl<'a> RawObject<'a> {
    /// Reads `raw` as an object; `path` names it in errors.
    pub(crate) fn from_raw(raw: &'a RawValue, path: String) -> Result<Self, CallbackError> {
        if kind(raw) != "object" {
            return Err(CallbackError::WrongType {
                field: if path.is_empty() { "(body)".into() } else { path },
                expected: "object",
                found: kind(raw),
            });
        }
        let Members(members) = serde_json::from_str(raw.get()).map_err(|e| CallbackError::NotJson(e.to_string()))?;
        Ok(RawObject { path, members })
    }

    pub(crate) fn field_path(&self, field: &str) -> String {
        join(&self.path, field)
    }

    /// The member named `field`; `None` if absent; an error if it appears twice.
    pub(crate) fn get(&self, field: &str) -> Result<Option<&'a RawValue>, CallbackError> {
        let mut found = None;
        for (k, v) in &self.members {
            if k == field {
                if found.is_some() {
                    return Err(CallbackError::DuplicateField { field: self.field_path(field) });
                }
                found = Some(*v);
            }
        }
        Ok(found)
    }

    pub(crate) fn require(&self, field: &str) -> Result<&'a RawValue, CallbackError> {
        self.get(field)?.ok_or_else(|| CallbackError::MissingField { field: self.field_path(field) })
    }

    /// A required string member.
    pub(crate) fn string(&self, field: &str) -> Result<String, CallbackError> {
        let raw = self.require(field)?;
        as_string(raw, &self.field_path(field))
    }

    /// An optional member that must be a string if present; `null` counts as absent.
    pub(crate) fn opt_string(&self, field: &str) -> Result<Option<String>, CallbackError> {
        match self.get(field)? {
            None => Ok(None),
            Some(raw) if kind(raw) == "null" => Ok(None),
            Some(raw) => as_string(raw, &self.field_path(field)).map(Some),
        }
    }

    /// A required member that is a string or a number; returns its text
    /// (the number's exact JSON text, or the string's content).
    pub(crate) fn scalar_text(&self, field: &str) -> Result<String, CallbackError> {
        let raw = self.require(field)?;
        scalar_text(raw, &self.field_path(field))
    }

    /// Like [`Self::scalar_text`] but optional (`null` counts as absent).
    pub(crate) fn opt_scalar_text(&self, field: &str) -> Result<Option<String>, CallbackError> {
        match self.get(field)? {
            None => Ok(None),
            Some(raw) if kind(raw) == "null" => Ok(None),
            Some(raw) => scalar_text(raw, &self.field_path(field)).map(Some),
        }
    }

    pub(crate) fn object(&self, field: &str) -> Result<RawObject<'a>, CallbackError> {
        let raw = self.require(field)?;
        RawObject::from_raw(raw, self.field_path(field))
    }
}

pub(crate) fn as_string(raw: &RawValue, path: &str) -> Result<String, CallbackError> {
    if kind(raw) != "string" {
        return Err(CallbackError::WrongType { field: path.to_owned(), expected: "string", found: kind(raw) });
    }
    serde_json::from_str(raw.get()).map_err(|e| CallbackError::NotJson(e.to_string()))
}

pub(crate) fn scalar_text(raw: &RawValue, path: &str) -> Result<String, CallbackError> {
    match kind(raw) {
        "number" => Ok(raw.get().to_owned()),
        "string" => as_string(raw, path),
        other => Err(CallbackError::WrongType { field: path.to_owned(), expected: "string or number", found: other }),
    }
}

/// Reads a whole body as one JSON value, with the size, emptiness and truncation checks shared by
/// every callback parser.
pub(crate) fn body_value(body: &[u8], max: usize) -> Result<&RawValue, CallbackError> {
    if body.len() > max {
        return Err(CallbackError::TooLarge { len: body.len(), max });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(CallbackError::Empty);
    }
    serde_json::from_slice::<&RawValue>(body)
        .map_err(|e| if e.is_eof() { CallbackError::Truncated } else { CallbackError::NotJson(e.to_string()) })
}
