//! The identity policy of a keyless verification: *who* must have signed — the certificate's
//! identity (exact, or a regular expression) and the OIDC issuer that vouched for it.
//!
//! A Fulcio certificate proves only that *some* identity the issuer accepts held the key; any
//! GitHub workflow anywhere can get one. So a keyless verification without a policy proves
//! nothing about the signer, and repro refuses it instead of reporting it valid.

use regex::Regex;

/// How the certificate's identity (its subject alternative name: a workflow URI or an email)
/// must look.
#[derive(Debug, Clone)]
pub enum IdentityMatcher {
    /// The identity equals this string (`--certificate-identity`).
    Exact(String),
    /// The whole identity matches this regular expression (`--certificate-identity-regexp`).
    ///
    /// Unlike cosign, which uses Go's unanchored `MatchString`, the pattern must match the
    /// *whole* identity: `github.com/org/` alone would also accept
    /// `https://evil.example/?github.com/org/`. A cosign pattern written with `^…$` means the
    /// same here; one without anchors is stricter here, never looser.
    Regexp {
        /// The pattern as the user wrote it.
        pattern: String,
        /// The pattern compiled as `^(?:pattern)$`.
        regex: Regex,
    },
}

impl IdentityMatcher {
    /// Compiles `pattern` anchored at both ends.
    pub fn regexp(pattern: &str) -> Result<Self, PolicyError> {
        if pattern.is_empty() {
            return Err(PolicyError::Empty {
                option: "--certificate-identity-regexp",
            });
        }
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|source| PolicyError::BadRegexp {
            pattern: pattern.to_owned(),
            source,
        })?;
        Ok(IdentityMatcher::Regexp {
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// Whether `identity` satisfies this matcher.
    pub fn matches(&self, identity: &str) -> bool {
        match self {
            IdentityMatcher::Exact(expected) => identity == expected,
            IdentityMatcher::Regexp { regex, .. } => regex.is_match(identity),
        }
    }
}

impl std::fmt::Display for IdentityMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityMatcher::Exact(identity) => write!(f, "{identity:?}"),
            IdentityMatcher::Regexp { pattern, .. } => {
                write!(f, "an identity matching /^(?:{pattern})$/")
            }
        }
    }
}

/// Who must have signed: an identity and the OIDC issuer that vouched for it. Both are
/// required, as cosign requires them: an identity alone can be claimed through another issuer
/// (an email address at any provider Fulcio trusts), an issuer alone admits every workflow on
/// GitHub.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    identity: IdentityMatcher,
    issuer: String,
}

impl IdentityPolicy {
    /// A policy from an identity matcher and the exact issuer URL.
    pub fn new(identity: IdentityMatcher, issuer: impl Into<String>) -> Result<Self, PolicyError> {
        let issuer = issuer.into();
        if issuer.is_empty() {
            return Err(PolicyError::Empty {
                option: "--certificate-oidc-issuer",
            });
        }
        if let IdentityMatcher::Exact(identity) = &identity
            && identity.is_empty()
        {
            return Err(PolicyError::Empty {
                option: "--certificate-identity",
            });
        }
        Ok(IdentityPolicy { identity, issuer })
    }

    /// A policy from the command-line options as given (cosign's names): exactly one of
    /// `identity` / `identity_regexp`, and `issuer`. Says what is missing otherwise.
    pub fn from_options(
        identity: Option<&str>,
        identity_regexp: Option<&str>,
        issuer: Option<&str>,
    ) -> Result<Self, PolicyError> {
        let matcher = match (identity, identity_regexp) {
            (Some(_), Some(_)) => return Err(PolicyError::BothIdentityForms),
            (Some(exact), None) => IdentityMatcher::Exact(exact.to_owned()),
            (None, Some(pattern)) => IdentityMatcher::regexp(pattern)?,
            (None, None) if issuer.is_none() => return Err(PolicyError::Missing),
            (None, None) => return Err(PolicyError::NoIdentity),
        };
        let issuer = issuer.ok_or(PolicyError::NoIssuer)?;
        IdentityPolicy::new(matcher, issuer)
    }

    pub fn identity(&self) -> &IdentityMatcher {
        &self.identity
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// Why no identity policy could be made; each says which option to add or fix.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "a keyless signature needs an identity policy: a Fulcio certificate only proves that \
         someone the issuer vouched for signed, so give --certificate-identity (or \
         --certificate-identity-regexp) and --certificate-oidc-issuer"
    )]
    Missing,
    #[error(
        "--certificate-oidc-issuer alone admits every identity of that issuer (every GitHub \
         workflow, for GitHub Actions): give --certificate-identity or \
         --certificate-identity-regexp too"
    )]
    NoIdentity,
    #[error(
        "an identity is only meaningful with the issuer that vouched for it: give \
         --certificate-oidc-issuer too (GitHub Actions: \
         https://token.actions.githubusercontent.com)"
    )]
    NoIssuer,
    #[error("give either --certificate-identity or --certificate-identity-regexp, not both")]
    BothIdentityForms,
    #[error("{option} is empty")]
    Empty { option: &'static str },
    #[error("--certificate-identity-regexp {pattern:?} is not a valid regular expression")]
    BadRegexp {
        pattern: String,
        #[source]
        source: regex::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://token.actions.githubusercontent.com";

    #[test]
    fn every_missing_part_is_named() {
        let missing = IdentityPolicy::from_options(None, None, None);
        assert!(matches!(missing, Err(PolicyError::Missing)));
        let issuer_only = IdentityPolicy::from_options(None, None, Some(ISSUER));
        assert!(matches!(issuer_only, Err(PolicyError::NoIdentity)));
        let identity_only = IdentityPolicy::from_options(Some("a@example.com"), None, None);
        assert!(matches!(identity_only, Err(PolicyError::NoIssuer)));
        let both = IdentityPolicy::from_options(Some("a"), Some("a"), Some(ISSUER));
        assert!(matches!(both, Err(PolicyError::BothIdentityForms)));
        let empty = IdentityPolicy::from_options(Some(""), None, Some(ISSUER));
        assert!(matches!(empty, Err(PolicyError::Empty { .. })));
        let empty_issuer = IdentityPolicy::from_options(Some("a"), None, Some(""));
        assert!(matches!(empty_issuer, Err(PolicyError::Empty { .. })));
        let bad = IdentityPolicy::from_options(None, Some("(unclosed"), Some(ISSUER));
        assert!(matches!(bad, Err(PolicyError::BadRegexp { .. })));
    }

    #[test]
    fn a_regexp_must_match_the_whole_identity() {
        let policy =
            IdentityPolicy::from_options(None, Some(r"https://github\.com/slsa-framework/.*"), Some(ISSUER))
                .unwrap();
        let matcher = policy.identity();
        assert!(matcher.matches(
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/x.yml@refs/tags/v2.1.0"
        ));
        assert!(!matcher.matches("https://evil.example/?https://github.com/slsa-framework/x"));
        // An unanchored cosign-style pattern no longer matches a substring.
        let partial = IdentityMatcher::regexp("slsa-framework").unwrap();
        assert!(!partial.matches("https://github.com/slsa-framework/x"));
        // Alternatives stay inside the anchors.
        let alternatives = IdentityMatcher::regexp("a|b").unwrap();
        assert!(alternatives.matches("a") && alternatives.matches("b"));
        assert!(!alternatives.matches("ab") && !alternatives.matches("xa"));
    }

    #[test]
    fn an_exact_identity_is_compared_byte_for_byte() {
        let matcher = IdentityMatcher::Exact("a@example.com".into());
        assert!(matcher.matches("a@example.com"));
        assert!(!matcher.matches("A@example.com"));
        assert!(!matcher.matches("a@example.com "));
    }
}
