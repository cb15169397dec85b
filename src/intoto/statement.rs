//! in-toto statements: the statement types mapped to their URIs, the typed statement repro
//! writes and the resource descriptors it names artifacts with.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
const STATEMENT_V0_1: &str = "https://in-toto.io/Statement/v0.1";

/// The in-toto statement version named by `_type`. repro writes v1 and reads v0.1 too, which
/// slsa-github-generator still writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementType {
    V0_1,
    V1,
}

impl StatementType {
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            STATEMENT_V1 => Some(Self::V1),
            STATEMENT_V0_1 => Some(Self::V0_1),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::V1 => STATEMENT_V1,
            Self::V0_1 => STATEMENT_V0_1,
        }
    }
}

impl Serialize for StatementType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.uri())
    }
}

/// Digests by algorithm name (`sha256`, `sha512`, `gitCommit`), values in lowercase hex.
pub type DigestSet = BTreeMap<String, String>;

/// An artifact or input named by a statement: a subject, a resolved dependency.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ResourceDescriptor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub digest: DigestSet,
}

impl ResourceDescriptor {
    /// A subject: a name and its digests.
    pub fn named(name: impl Into<String>, digest: DigestSet) -> Self {
        Self {
            name: Some(name.into()),
            uri: None,
            digest,
        }
    }

    /// An input found at a URI, with its digests.
    pub fn at(uri: impl Into<String>, digest: DigestSet) -> Self {
        Self {
            name: None,
            uri: Some(uri.into()),
            digest,
        }
    }
}

/// A digest set of one algorithm.
pub fn digest(algorithm: &str, value: impl Into<String>) -> DigestSet {
    DigestSet::from([(algorithm.to_string(), value.into())])
}

/// A predicate repro writes, with the `predicateType` URI that names it.
pub trait Predicate: Serialize {
    const TYPE: &'static str;
}

/// An in-toto statement about `subject`, as repro writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement<P> {
    #[serde(rename = "_type")]
    pub statement_type: StatementType,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: &'static str,
    pub predicate: P,
}

impl<P: Predicate> Statement<P> {
    /// A v1 statement with the predicate's own type.
    pub fn new(subject: Vec<ResourceDescriptor>, predicate: P) -> Self {
        Self {
            statement_type: StatementType::V1,
            subject,
            predicate_type: P::TYPE,
            predicate,
        }
    }

    /// The bytes to sign: compact JSON with every object's keys sorted, as repro has always
    /// written its statements.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        super::sorted_json(self).map(String::into_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Example {
        zeta: u8,
        alpha: Option<u8>,
    }

    impl Predicate for Example {
        const TYPE: &'static str = "https://example.com/p/v1";
    }

    #[test]
    fn statement_types_map_to_and_from_their_uris() {
        for t in [StatementType::V0_1, StatementType::V1] {
            assert_eq!(StatementType::from_uri(t.uri()), Some(t));
        }
        assert_eq!(StatementType::from_uri("https://in-toto.io/Statement/v2"), None);
    }

    #[test]
    fn statements_are_v1_with_sorted_keys() {
        let statement = Statement::new(
            vec![
                ResourceDescriptor::named("a b", digest("sha256", "00")),
                ResourceDescriptor::at("git+https://x", digest("gitCommit", "11")),
            ],
            Example { zeta: 1, alpha: None },
        );
        assert_eq!(
            String::from_utf8(statement.to_json().unwrap()).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"alpha":null,"zeta":1},"predicateType":"https://example.com/p/v1","subject":[{"digest":{"sha256":"00"},"name":"a b"},{"digest":{"gitCommit":"11"},"uri":"git+https://x"}]}"#
        );
    }
}
