//! The Sigstore *trusted root* (`trusted_root.json`): the Fulcio certificate authorities, the
//! Rekor transparency-log keys, the certificate-transparency log keys and the timestamp
//! authorities a keyless signature is checked against. repro only reads it from a file the
//! user gives; it never fetches or refreshes it (that is TUF's job, done by the user's Sigstore
//! client, e.g. `cosign trusted-root create` or sigstore-python's cached copy).

use std::path::{Path, PathBuf};

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::TrustedRoot as RootData;

/// What every trusted root's `mediaType` starts with (version 0.1 today).
const MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot";

/// A parsed, checked trusted root, ready to verify any number of bundles.
pub struct TrustedRoot {
    verifier: Verifier,
    certificate_authorities: usize,
    source: Option<PathBuf>,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot")
            .field("certificate_authorities", &self.certificate_authorities)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl TrustedRoot {
    /// Reads a trusted root from `path`.
    pub fn from_file(path: &Path) -> Result<Self, TrustError> {
        let bytes = fs_err::read(path).map_err(TrustError::Read)?;
        let mut root = Self::from_json(&bytes).map_err(|e| e.in_file(path))?;
        root.source = Some(path.to_owned());
        Ok(root)
    }

    /// Parses a trusted root and checks every key and certificate in it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| TrustError::Invalid("it is not UTF-8 text".into()))?;
        let data = RootData::from_json(text).map_err(|e| TrustError::Parse(Box::new(e)))?;
        if !data.media_type.starts_with(MEDIA_TYPE_PREFIX) {
            return Err(TrustError::Invalid(format!(
                "mediaType is {:?}, not a Sigstore trusted root ({MEDIA_TYPE_PREFIX}+json…)",
                data.media_type
            )));
        }
        let certificate_authorities = data.certificate_authorities.len();
        let verifier = Verifier::new(&data).map_err(|e| TrustError::Parse(Box::new(e)))?;
        Ok(TrustedRoot {
            verifier,
            certificate_authorities,
            source: None,
        })
    }

    pub(super) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// How many Fulcio certificate authorities it lists; keyless verification needs one.
    pub fn certificate_authorities(&self) -> usize {
        self.certificate_authorities
    }

    /// The file it was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
}

/// Why a trusted root could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the trusted root")]
    Read(#[source] std::io::Error),
    #[error("the trusted root is not a Sigstore trusted_root.json")]
    Parse(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the trusted root is not a Sigstore trusted_root.json: {0}")]
    Invalid(String),
    #[error("trusted root {}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<TrustError>,
    },
}

impl TrustError {
    fn in_file(self, path: &Path) -> TrustError {
        TrustError::InFile {
            path: path.to_owned(),
            source: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_root_is_read_and_has_no_certificate_authority() {
        let empty = br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#;
        let root = TrustedRoot::from_json(empty).unwrap();
        assert_eq!(root.certificate_authorities(), 0);
    }

    #[test]
    fn other_documents_are_refused() {
        for bad in [
            &b"not json"[..],
            b"{}",
            b"[]",
            b"\xff\xfe",
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"baseUrl":"x"}]}"#,
        ] {
            assert!(TrustedRoot::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = TrustedRoot::from_file(Path::new("/nonexistent/trusted_root.json")).unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("/nonexistent/trusted_root.json"), "{chain}");
    }
}
