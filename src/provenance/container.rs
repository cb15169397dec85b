//! slsa-github-generator's container-based build type: the parameters needed to re-run it.

use super::{BuildDefinition, Provenance, ProvenanceError};
use crate::intoto::FormatError;
use crate::intoto::fields::{Obj, invalid, normalise_digest, wrong_type};

pub const CONTAINER_BUILD_TYPE: &str = "https://slsa.dev/container-based-build/v0.1?draft";

/// `externalParameters` of a container-based build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerBuild {
    pub source: GitSource,
    pub builder_image: BuilderImage,
    pub config_path: String,
    /// `buildConfig.ArtifactPath` (or `artifactPath`): a path or glob under the source.
    pub artifact_path: String,
    /// `buildConfig.Command` (or `command`): argv run in the builder image.
    pub command: Vec<String>,
}

/// `source`: `git+https://host/repo@ref` and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GitSource {
    /// The URI as recorded.
    pub uri: String,
    /// The repository URL without `git+` and `@ref`.
    pub repository: String,
    /// The ref after the last `@` (`refs/heads/main`).
    pub git_ref: String,
    /// Lowercase hex commit sha1.
    pub sha1: String,
}

/// `builderImage`: `name@sha256:…` and its digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuilderImage {
    /// The URI as recorded.
    pub uri: String,
    /// The image name before `@`.
    pub name: String,
    /// Lowercase hex sha256, equal to the URI's.
    pub sha256: String,
}

pub(super) fn extract(provenance: &Provenance) -> Result<ContainerBuild, ProvenanceError> {
    if provenance.build_type != CONTAINER_BUILD_TYPE {
        return Err(ProvenanceError::WrongBuildType {
            found: provenance.build_type.clone(),
            expected: CONTAINER_BUILD_TYPE,
        });
    }
    let BuildDefinition::V1 {
        external_parameters, ..
    } = &provenance.build
    else {
        return Err(FormatError::Missing {
            field: "predicate.buildDefinition.externalParameters".to_string(),
        }
        .into());
    };
    let params = Obj::new(
        external_parameters,
        "predicate.buildDefinition.externalParameters",
    )?;
    let config = params.obj("buildConfig")?;
    Ok(ContainerBuild {
        source: read_source(&params.obj("source")?)?,
        builder_image: read_image(&params.obj("builderImage")?)?,
        config_path: params.str("configPath")?.to_string(),
        artifact_path: config
            .str(either(&config, ["ArtifactPath", "artifactPath"]))?
            .to_string(),
        command: read_command(&config, either(&config, ["Command", "command"]))?,
    })
}

/// The spelling present, or the canonical one so that a missing field is named as documented.
fn either(config: &Obj<'_>, keys: [&'static str; 2]) -> &'static str {
    config.first_of(&keys).unwrap_or(keys[0])
}

pub(super) fn read_source(source: &Obj<'_>) -> Result<GitSource, ProvenanceError> {
    let uri = source.str("uri")?;
    let field = source.path_of("uri");
    let rest = uri
        .strip_prefix("git+")
        .ok_or_else(|| invalid(&field, format!("expected `git+https://…@ref`, found `{uri}`")))?;
    let (repository, git_ref) = rest
        .rsplit_once('@')
        .filter(|(repo, r)| !repo.is_empty() && !r.is_empty())
        .ok_or_else(|| invalid(&field, format!("no `@ref` in `{uri}`")))?;
    let digest = source.obj("digest")?;
    Ok(GitSource {
        uri: uri.to_string(),
        repository: repository.to_string(),
        git_ref: git_ref.to_string(),
        sha1: hex_digest(&digest, "sha1")?,
    })
}

pub(super) fn read_image(image: &Obj<'_>) -> Result<BuilderImage, ProvenanceError> {
    let uri = image.str("uri")?;
    let field = image.path_of("uri");
    let (name, uri_digest) = uri
        .split_once("@sha256:")
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| invalid(&field, format!("expected `name@sha256:…`, found `{uri}`")))?;
    let sha256 = hex_digest(&image.obj("digest")?, "sha256")?;
    // The image is pulled by the URI; a digest field that disagrees would pin something else.
    if !uri_digest.eq_ignore_ascii_case(&sha256) {
        return Err(invalid(
            &field,
            format!("its digest differs from digest.sha256 `{sha256}`"),
        )
        .into());
    }
    Ok(BuilderImage {
        uri: uri.to_string(),
        name: name.to_string(),
        sha256,
    })
}

/// A digest the build depends on: present and of the algorithm's length.
fn hex_digest(digest: &Obj<'_>, algorithm: &str) -> Result<String, ProvenanceError> {
    Ok(normalise_digest(
        algorithm,
        digest.str(algorithm)?,
        &digest.path_of(algorithm),
    )?)
}

fn read_command(config: &Obj<'_>, key: &str) -> Result<Vec<String>, ProvenanceError> {
    let field = config.path_of(key);
    let items = config
        .req(key)?
        .as_array()
        .ok_or_else(|| wrong_type(&field, "an array of strings"))?;
    if items.is_empty() {
        return Err(invalid(&field, "empty command").into());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| wrong_type(&format!("{field}[{i}]"), "a string").into())
        })
        .collect()
}
