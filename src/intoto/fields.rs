//! Typed access to the members of a JSON document, with errors that name the full field path;
//! shared by the readers of the model and of the predicates inside it.

use serde_json::{Map, Value};

use super::FormatError;

/// A JSON object and where it sits in the document (`predicate.buildDefinition`).
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(value: &'a Value, path: &str) -> Result<Self, FormatError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_string(),
            }),
            _ if path.is_empty() => Err(wrong_type("(top level)", "an object")),
            _ => Err(wrong_type(path, "an object")),
        }
    }

    /// Where this object sits (`""` at the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// A member; `null` counts as absent, as producers write both.
    pub(crate) fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn req(&self, key: &str) -> Result<&'a Value, FormatError> {
        self.opt(key).ok_or_else(|| FormatError::Missing {
            field: self.path_of(key),
        })
    }

    pub(crate) fn str(&self, key: &str) -> Result<&'a str, FormatError> {
        self.req(key)?
            .as_str()
            .ok_or_else(|| wrong_type(&self.path_of(key), "a string"))
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, FormatError> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| wrong_type(&self.path_of(key), "a string")),
        }
    }

    pub(crate) fn obj(&self, key: &str) -> Result<Obj<'a>, FormatError> {
        Obj::new(self.req(key)?, &self.path_of(key))
    }

    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, FormatError> {
        self.opt(key).map(|v| Obj::new(v, &self.path_of(key))).transpose()
    }

    pub(crate) fn array(&self, key: &str) -> Result<&'a Vec<Value>, FormatError> {
        self.req(key)?
            .as_array()
            .ok_or_else(|| wrong_type(&self.path_of(key), "an array"))
    }

    /// The first of several spellings of one field that is present (`Command`/`command`).
    pub(crate) fn first_of(&self, keys: &[&'static str]) -> Option<&'static str> {
        keys.iter().copied().find(|k| self.opt(k).is_some())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        self.map.iter()
    }
}

pub(crate) fn wrong_type(field: &str, expected: &'static str) -> FormatError {
    FormatError::WrongType {
        field: field.to_string(),
        expected,
    }
}

pub(crate) fn invalid(field: &str, problem: impl Into<String>) -> FormatError {
    FormatError::Invalid {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Hex digests of known lengths are checked and lowercased, since subjects match by digest;
/// other algorithms are kept as written.
pub(crate) fn normalise_digest(algorithm: &str, value: &str, field: &str) -> Result<String, FormatError> {
    let hex_len = match algorithm {
        // gitCommit is left out: SHA-256 repositories have 64-digit commits.
        "sha1" => Some(40),
        "sha224" | "sha512_224" | "sha3_224" => Some(56),
        "sha256" | "sha512_256" | "sha3_256" => Some(64),
        "sha384" | "sha3_384" => Some(96),
        "sha512" | "sha3_512" => Some(128),
        _ => None,
    };
    match hex_len {
        Some(len) if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) => Err(invalid(
            field,
            format!("expected {len} hex digits, found `{value}`"),
        )),
        Some(_) => Ok(value.to_ascii_lowercase()),
        None => Ok(value.to_string()),
    }
}
