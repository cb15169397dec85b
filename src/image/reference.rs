//! Image references as users write them, sorted into pinned and unpinned. Builds run from
//! content digests only; a tag alone is refused unless the caller allows unpinned images.

use std::fmt;

use super::cache::is_sha256_hex;
use super::recipe::{builtin_names, is_builtin};

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// One of repro's builder images by recipe name (`default`); pinned by its cached tarball.
    Builder(String),
    /// Pinned by content: `name@sha256:…`, `name:tag@sha256:…` or a bare `sha256:…` image ID.
    Digest { name: Option<String>, digest: String },
    /// A tag without a digest (`debian:trixie`, `ubuntu`), accepted only when allowed.
    Unpinned(String),
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error(
        "image `{reference}` is named by tag only, and a tag can point at other content tomorrow; pin it \
         by digest (`{reference}@sha256:…`), use a repro builder image ({builders}), or pass \
         --allow-unpinned to accept it (the report and attestation then say it was unpinned)"
    )]
    Unpinned { reference: String, builders: String },
    #[error("image reference `{reference}`: {reason}")]
    Invalid { reference: String, reason: String },
}

impl ImageRef {
    /// Parses `reference`; a tag-only reference is an error unless `allow_unpinned`.
    pub fn parse(reference: &str, allow_unpinned: bool) -> Result<ImageRef, ImageRefError> {
        let invalid = |reason: &str| ImageRefError::Invalid {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        if reference.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some((name, digest)) = reference.rsplit_once('@') {
            check_digest(digest).map_err(|r| invalid(&r))?;
            check_name(name).map_err(|r| invalid(&r))?;
            return Ok(ImageRef::Digest {
                name: Some(name.to_owned()),
                digest: digest.to_owned(),
            });
        }
        if reference.starts_with("sha256:") {
            check_digest(reference).map_err(|r| invalid(&r))?;
            return Ok(ImageRef::Digest {
                name: None,
                digest: reference.to_owned(),
            });
        }
        if is_builtin(reference) {
            return Ok(ImageRef::Builder(reference.to_owned()));
        }
        check_name(reference).map_err(|r| invalid(&r))?;
        if allow_unpinned {
            Ok(ImageRef::Unpinned(reference.to_owned()))
        } else {
            Err(ImageRefError::Unpinned {
                reference: reference.to_owned(),
                builders: builtin_names().collect::<Vec<_>>().join(", "),
            })
        }
    }

    /// Whether the content this reference names is fixed.
    pub fn is_pinned(&self) -> bool {
        !matches!(self, ImageRef::Unpinned(_))
    }

    /// The `sha256:…` digest, when the reference carries one.
    pub fn digest(&self) -> Option<&str> {
        match self {
            ImageRef::Digest { digest, .. } => Some(digest),
            _ => None,
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Builder(name) | ImageRef::Unpinned(name) => f.write_str(name),
            ImageRef::Digest {
                name: Some(name),
                digest,
            } => write!(f, "{name}@{digest}"),
            ImageRef::Digest { name: None, digest } => f.write_str(digest),
        }
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if is_sha256_hex(hex) => Ok(()),
        _ => Err("the digest must be `sha256:` followed by 64 lowercase hex digits".to_owned()),
    }
}

/// A loose check of Docker's reference grammar: enough to refuse what cannot be a name.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '.', '/', ':'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("not a valid image name".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn sorts_references() {
        let pinned = format!("debian:trixie@sha256:{HEX}");
        assert_eq!(
            ImageRef::parse(&pinned, false),
            Ok(ImageRef::Digest {
                name: Some("debian:trixie".into()),
                digest: format!("sha256:{HEX}")
            })
        );
        assert_eq!(
            ImageRef::parse(&format!("sha256:{HEX}"), false),
            Ok(ImageRef::Digest {
                name: None,
                digest: format!("sha256:{HEX}")
            })
        );
        assert_eq!(
            ImageRef::parse("default", false),
            Ok(ImageRef::Builder("default".into()))
        );
        assert_eq!(
            ImageRef::parse(&format!("default@sha256:{HEX}"), false)
                .unwrap()
                .digest(),
            Some(format!("sha256:{HEX}").as_str())
        );
        assert_eq!(
            ImageRef::parse("debian:trixie", true),
            Ok(ImageRef::Unpinned("debian:trixie".into()))
        );
        assert!(!ImageRef::parse("debian", true).unwrap().is_pinned());
        assert_eq!(ImageRef::parse(&pinned, false).unwrap().to_string(), pinned);
    }

    #[test]
    fn refuses_tags_unless_allowed() {
        for tag in [
            "debian:trixie",
            "ubuntu",
            "ghcr.io/org/builder:v1",
            "localhost:5000/x",
        ] {
            let err = ImageRef::parse(tag, false).unwrap_err();
            assert!(matches!(err, ImageRefError::Unpinned { .. }), "{tag}");
            let message = err.to_string();
            assert!(
                message.contains("--allow-unpinned") && message.contains(tag),
                "{message}"
            );
        }
    }

    #[test]
    fn rejects_malformed_references() {
        let short = format!("debian@sha256:{}", HEX.get(..63).unwrap());
        let upper = format!("debian@sha256:{}", HEX.to_uppercase());
        for bad in [
            "",
            "debian@",
            "debian@sha512:abcd",
            &short,
            &upper,
            &format!("@sha256:{HEX}"),
            "sha256:xyz",
            "with space",
            "-flag",
            "emoji🙂",
        ] {
            let err = ImageRef::parse(bad, true).unwrap_err();
            assert!(matches!(err, ImageRefError::Invalid { .. }), "{bad:?}: {err}");
        }
    }
}
