//! Whether repro can re-run what a provenance records, and if not, why: shared by
//! `repro inspect` (which says it) and `repro rebuild` (which refuses early with the same words).

use super::{CONTAINER_BUILD_TYPE, Provenance, REPRO_BUILD_TYPE_PREFIX};

/// GitHub Actions workflow build types (the current one and slsa-github-generator's older one).
const GITHUB_WORKFLOW_TYPES: [&str; 2] = [
    "https://actions.github.io/buildtypes/workflow/v1",
    "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
];
const GENERIC_GENERATOR_TYPE: &str = "https://github.com/slsa-framework/slsa-github-generator/generic@v1";
const GO_BUILDER_TYPE: &str = "https://github.com/slsa-framework/slsa-github-generator/go@v1";
const DELEGATOR_TYPE_PREFIX: &str = "https://github.com/slsa-framework/slsa-github-generator/delegator-";
const CLOUD_BUILD_PREFIX: &str = "https://cloudbuild.googleapis.com/";

/// The answer, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerun {
    /// repro re-runs this build type, and the provenance records all it needs.
    Possible(String),
    /// Nothing recorded would let anyone re-run the build, or a part of it is missing.
    Impossible(String),
    /// A build type repro has no built-in recipe for; a recipe in `rebuilders/` could name it.
    NoRecipe(String),
}

impl Rerun {
    pub fn possible(&self) -> bool {
        matches!(self, Rerun::Possible(_))
    }

    pub fn why(&self) -> &str {
        match self {
            Rerun::Possible(why) | Rerun::Impossible(why) | Rerun::NoRecipe(why) => why,
        }
    }
}

/// Whether `p` can be re-run.
pub fn rerun(p: &Provenance) -> Rerun {
    let build_type = p.build_type.as_str();
    if build_type == CONTAINER_BUILD_TYPE {
        return match p.container_build() {
            Ok(_) => Rerun::Possible(
                "slsa-github-generator's container-based build records its source commit, builder \
                 image by digest and command"
                    .into(),
            ),
            Err(e) => Rerun::Impossible(format!("a container-based build, but {e}")),
        };
    }
    if build_type.starts_with(REPRO_BUILD_TYPE_PREFIX) {
        return match p.repro_build() {
            Ok(_) => Rerun::Possible(
                "repro build recorded its source commit, builder image by digest, command and \
                 SOURCE_DATE_EPOCH"
                    .into(),
            ),
            Err(e) => Rerun::Impossible(format!("one of repro's build types, but {e}")),
        };
    }
    if build_type == GENERIC_GENERATOR_TYPE
        || p.builder_id
            .as_deref()
            .is_some_and(|id| id.contains("/generator_generic_slsa3.yml@"))
    {
        return Rerun::Impossible(
            "the generic generator records no build command: the workflow was the build, and only \
             the digests of what it made are attested"
                .into(),
        );
    }
    if build_type == GO_BUILDER_TYPE {
        return Rerun::Impossible(
            "the Go builder records its commands (`go mod vendor`, `go build …`), but not the Go \
             dependency phase: the modules `go mod vendor` downloaded are neither recorded nor \
             fetched by repro, and the runner image is named, not pinned by digest"
                .into(),
        );
    }
    if build_type.starts_with(DELEGATOR_TYPE_PREFIX) {
        return Rerun::Impossible(
            "a BYOB (delegator) build records the inputs given to the builder's workflow, not the \
             commands it ran: only that workflow on GitHub's runners can re-run it"
                .into(),
        );
    }
    if GITHUB_WORKFLOW_TYPES.contains(&build_type) {
        return Rerun::Impossible(
            "a GitHub Actions workflow run (npm's provenance is one) records the workflow file and \
             the commit, not the commands the workflow ran nor the runner image by digest"
                .into(),
        );
    }
    if build_type.starts_with(CLOUD_BUILD_PREFIX) {
        return Rerun::Impossible(
            "Google Cloud Build records its steps for Google's hosted workers, whose images it \
             names by tag, not digest; repro has no Cloud Build recipe"
                .into(),
        );
    }
    Rerun::NoRecipe(format!(
        "repro has no built-in recipe for the build type `{build_type}` (a recipe in rebuilders/ \
         names each build type it re-runs)"
    ))
}

/// Why a statement of a predicate type other than build provenance cannot be re-run.
pub fn not_provenance(predicate_type: &str) -> String {
    let what = match predicate_type {
        "https://slsa.dev/verification_summary/v1" => {
            "a verification summary (VSA) records a verification, not a build"
        }
        "https://github.com/repro/repro/attestation/rebuild/v1" => {
            "repro's rebuild attestation records a rebuild's verdict; rebuild its provenance instead"
        }
        "https://docs.pypi.org/attestations/publish/v1" => {
            "a PyPI publish attestation says who published the file, not how it was built"
        }
        t if t.starts_with("https://github.com/npm/attestation/") => {
            "npm's publish attestation says what the registry published, not how it was built"
        }
        _ => "the statement is not SLSA build provenance",
    };
    what.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_fixtures::{SLSA_VERIFIER, read};

    fn first(path: &str) -> Option<Provenance> {
        let bytes = read(&format!("{SLSA_VERIFIER}/{path}"))?;
        let all = super::super::read_all(&bytes).unwrap();
        all.into_iter().next()
    }

    #[test]
    fn real_provenance_says_whether_it_can_be_rerun() {
        let cases = [
            (
                "gha_container-based/v2.1.0/binary-linux-amd64-push-v14.2.intoto.build.slsa",
                true,
                "container-based",
            ),
            (
                "gha_generic/v2.1.0/binary-linux-amd64-push-v14.intoto.jsonl",
                false,
                "the workflow was the build",
            ),
            (
                "gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
                false,
                "Go dependency phase",
            ),
            (
                "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
                false,
                "BYOB",
            ),
            (
                "gha_maven/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
                false,
                "BYOB",
            ),
            (
                "npm/gha/provenance-npm-test-cli-v1-prega.tgz.json",
                false,
                "GitHub Actions workflow",
            ),
            (
                "gcb_container/v0.3/gcloud-container-github.json",
                false,
                "Cloud Build",
            ),
        ];
        for (path, possible, why) in cases {
            let Some(p) = first(path) else { return };
            let answer = rerun(&p);
            assert_eq!(answer.possible(), possible, "{path}: {answer:?}");
            assert!(answer.why().contains(why), "{path}: {answer:?}");
            assert!(!matches!(answer, Rerun::NoRecipe(_)), "{path}");
        }
    }

    #[test]
    fn other_predicates_say_what_they_are() {
        assert!(not_provenance("https://slsa.dev/verification_summary/v1").contains("verification"));
        assert!(not_provenance("https://docs.pypi.org/attestations/publish/v1").contains("published"));
        assert!(not_provenance("https://example.com/x").contains("not SLSA build provenance"));
    }
}
