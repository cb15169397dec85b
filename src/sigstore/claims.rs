//! What a verified Fulcio certificate says about its signer: the identity (subject alternative
//! name), the OIDC issuer, and the CI workload claims Fulcio copies from the identity token
//! into the extensions under OID 1.3.6.1.4.1.57264.1 (source repository, ref, commit, workflow,
//! runner …). They are claims *of a verified certificate*: only read them from a
//! [`super::KeylessVerified`].

use serde::Serialize;
use sigstore_verify::crypto::{CertificateInfo, SubjectAltName};

/// The GitHub Actions issuer, whose older certificates carry only the deprecated claims.
const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Whether the identity is a URI (a workflow, for CI) or an email address (a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    Uri,
    Email,
}

/// The signer, as the verified certificate names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateIdentity {
    /// The subject alternative name: e.g.
    /// `https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1`.
    pub identity: String,
    pub identity_kind: IdentityKind,
    /// The OIDC issuer (OID …57264.1.8, or …1.1 in older certificates).
    pub issuer: String,
    /// The CI workload claims, empty for a person's certificate.
    pub workflow: WorkflowClaims,
}

/// The CI workload claims of a Fulcio certificate (OID 1.3.6.1.4.1.57264.1.N). Every one is
/// optional: a person's certificate has none, and providers set different subsets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowClaims {
    /// .12 — the repository the artifact was built from (a URL). For certificates older
    /// than that extension, built from GitHub's deprecated .5 (`OWNER/REPO`) as
    /// `https://github.com/OWNER/REPO`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
    /// .14 — the ref built, e.g. `refs/tags/v1.0` (deprecated .6 in older certificates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<String>,
    /// .13 — the commit built (deprecated .3 in older certificates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// .18 — the build configuration that ran, e.g. the workflow file at a ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// .9 — the configuration that requested the signature (a reusable workflow, say); the
    /// identity is derived from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_workflow: Option<String>,
    /// .10 — the commit that signing configuration was taken from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_commit: Option<String>,
    /// .11 — `github-hosted` or `self-hosted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_environment: Option<String>,
    /// .20 — the triggering event, e.g. `push` (deprecated .2 in older certificates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// .21 — the run that signed (for GitHub, the URL of its logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_invocation: Option<String>,
    /// .15 — the provider's immutable repository id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    /// .16 — the repository owner (a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_owner: Option<String>,
    /// .22 — `public`, `private` or `internal` at signing time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_visibility: Option<String>,
    /// .23 — the deployment environment the job targeted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_environment: Option<String>,
    /// .4 (deprecated, no successor) — the workflow's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_name: Option<String>,
}

/// The names usable as `certificate.NAME` in expectations, in the order they are shown.
pub const FIELDS: &[&str] = &[
    "identity",
    "issuer",
    "sourceRepository",
    "ref",
    "commit",
    "workflow",
    "signerWorkflow",
    "signerCommit",
    "runnerEnvironment",
    "trigger",
    "runInvocation",
    "repositoryId",
    "repositoryOwner",
    "repositoryVisibility",
    "deploymentEnvironment",
    "workflowName",
];

impl CertificateIdentity {
    /// The identity of a verified certificate; `None` when it names no identity or issuer
    /// (which the identity policy has already refused).
    pub(super) fn from_certificate(info: &CertificateInfo) -> Option<Self> {
        let (identity, identity_kind) = match info.identity.as_ref()? {
            SubjectAltName::Email(email) => (email.clone(), IdentityKind::Email),
            SubjectAltName::Uri(uri) => (uri.clone(), IdentityKind::Uri),
            // `SubjectAltName` is non-exhaustive: a future kind still has a value.
            other => (other.as_str().to_owned(), IdentityKind::Uri),
        };
        let issuer = info.issuer.clone()?;
        let workflow = WorkflowClaims::from_certificate(info, &issuer);
        Some(CertificateIdentity {
            identity,
            identity_kind,
            issuer,
            workflow,
        })
    }

    /// The value of `certificate.NAME` (`name` without the prefix; see [`FIELDS`]), or `None`
    /// when the certificate does not carry that claim. Unknown names are `None` too: check
    /// them against [`FIELDS`] first to tell the user.
    pub fn field(&self, name: &str) -> Option<&str> {
        let w = &self.workflow;
        let value = match name {
            "identity" => return Some(&self.identity),
            "issuer" => return Some(&self.issuer),
            "sourceRepository" => &w.source_repository,
            "ref" => &w.r#ref,
            "commit" => &w.commit,
            "workflow" => &w.workflow,
            "signerWorkflow" => &w.signer_workflow,
            "signerCommit" => &w.signer_commit,
            "runnerEnvironment" => &w.runner_environment,
            "trigger" => &w.trigger,
            "runInvocation" => &w.run_invocation,
            "repositoryId" => &w.repository_id,
            "repositoryOwner" => &w.repository_owner,
            "repositoryVisibility" => &w.repository_visibility,
            "deploymentEnvironment" => &w.deployment_environment,
            "workflowName" => &w.workflow_name,
            _ => return None,
        };
        value.as_deref()
    }
}

impl WorkflowClaims {
    /// The claims a certificate (DER) *says* it carries, read without verifying anything: for
    /// `repro inspect`, which shows them as unverified. `None` when it cannot be parsed or
    /// names no issuer.
    pub fn claimed_by(der: &[u8]) -> Option<Self> {
        let certificate = sigstore_verify::types::DerCertificate::from_bytes(der);
        let info = sigstore_verify::crypto::parse_certificate_info(&certificate).ok()?;
        let issuer = info.issuer.clone()?;
        Some(Self::from_certificate(&info, &issuer))
    }

    fn from_certificate(info: &CertificateInfo, issuer: &str) -> Self {
        let claims = &info.ci_claims;
        let old = &claims.deprecated_github;
        let old_repository = old
            .workflow_repository
            .as_ref()
            .filter(|_| issuer == GITHUB_ACTIONS_ISSUER)
            .map(|repository| format!("https://github.com/{repository}"));
        WorkflowClaims {
            source_repository: claims.source_repository_uri.clone().or(old_repository),
            r#ref: claims
                .source_repository_ref
                .clone()
                .or_else(|| old.workflow_ref.clone()),
            commit: claims
                .source_repository_digest
                .clone()
                .or_else(|| old.workflow_sha.clone()),
            workflow: claims.build_config_uri.clone(),
            signer_workflow: claims.build_signer_uri.clone(),
            signer_commit: claims.build_signer_digest.clone(),
            runner_environment: claims.runner_environment.clone(),
            trigger: claims
                .build_trigger
                .clone()
                .or_else(|| old.workflow_trigger.clone()),
            run_invocation: claims.run_invocation_uri.clone(),
            repository_id: claims.source_repository_identifier.clone(),
            repository_owner: claims.source_repository_owner_uri.clone(),
            repository_visibility: claims.source_repository_visibility_at_signing.clone(),
            deployment_environment: claims.deployment_environment.clone(),
            workflow_name: old.workflow_name.clone(),
        }
    }

    /// Whether the certificate carried no workload claim (a person's certificate).
    pub fn is_empty(&self) -> bool {
        *self == WorkflowClaims::default()
    }
}
