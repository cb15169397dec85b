//! repro's own build types (`https://github.com/repro/repro/buildtypes/<recipe>/v1`), as
//! `repro build` records them: the source commit and folder, the pinned builder image, the
//! whole build definition, and `SOURCE_DATE_EPOCH`. Everything a rebuilder needs is recorded,
//! so a rebuild does not depend on the recipe files of the rebuilder's version.

use super::container::{read_image, read_source};
use super::{BuildDefinition, BuilderImage, GitSource, Provenance, ProvenanceError};
use crate::intoto::FormatError;
use crate::intoto::fields::{Obj, invalid, wrong_type};
use crate::recipe::BuildDef;

/// Every build type repro records starts with this.
pub const REPRO_BUILD_TYPE_PREFIX: &str = "https://github.com/repro/repro/buildtypes/";

/// `externalParameters` of a repro build type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReproBuild {
    pub source: GitSource,
    /// The project's folder in the repository (`""` for its root), `/`-separated.
    pub path: String,
    pub builder_image: BuilderImage,
    pub build: BuildDef,
    pub source_date_epoch: i64,
    /// `uncommittedChanges`: files of the working tree that differed from the commit when it
    /// was built (`repro build --allow-dirty`).
    pub uncommitted_changes: Vec<String>,
}

pub(super) fn extract(provenance: &Provenance) -> Result<ReproBuild, ProvenanceError> {
    let field = "predicate.buildDefinition.externalParameters";
    let BuildDefinition::V1 {
        external_parameters, ..
    } = &provenance.build
    else {
        return Err(FormatError::Missing {
            field: field.to_string(),
        }
        .into());
    };
    let params = Obj::new(external_parameters, field)?;
    let source = params.obj("source")?;
    let raw = source.opt_str("path")?.unwrap_or("");
    let path = raw.trim_end_matches('/').to_string();
    let bad_path = path
        .split('/')
        .any(|c| c == ".." || c == "." || (c.is_empty() && !path.is_empty()));
    if bad_path || raw.starts_with('/') || path.contains('\\') {
        return Err(invalid(
            &source.path_of("path"),
            format!("expected a relative folder without `.` or `..`, found `{raw}`"),
        )
        .into());
    }
    let build_field = params.path_of("build");
    let build: BuildDef = serde_json::from_value(params.req("build")?.clone())
        .map_err(|e| invalid(&build_field, e.to_string()))?;
    if build.build_type != provenance.build_type {
        return Err(invalid(
            &format!("{build_field}.build_type"),
            format!(
                "`{}` differs from the provenance's buildType `{}`",
                build.build_type, provenance.build_type
            ),
        )
        .into());
    }
    if build.command.is_empty() {
        return Err(invalid(&format!("{build_field}.command"), "empty command").into());
    }
    let sde_field = params.path_of("sourceDateEpoch");
    let source_date_epoch = params
        .req("sourceDateEpoch")?
        .as_i64()
        .ok_or_else(|| wrong_type(&sde_field, "an integer (seconds since the epoch)"))?;
    let uncommitted_field = params.path_of("uncommittedChanges");
    let uncommitted_changes = match params.opt("uncommittedChanges") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong_type(&uncommitted_field, "an array of strings"))?,
        Some(_) => return Err(wrong_type(&uncommitted_field, "an array of strings").into()),
    };
    Ok(ReproBuild {
        uncommitted_changes,
        source: read_source(&source)?,
        path,
        builder_image: read_image(&params.obj("builderImage")?)?,
        build,
        source_date_epoch,
    })
}
