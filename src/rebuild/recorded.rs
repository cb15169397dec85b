//! What a provenance says was built, as something `repro check` can run again: the source
//! commit and folder, the builder image, and a build definition. One reader per build type that
//! `rebuilders/` can re-run.

use serde::Serialize;

use super::RebuildError;
use crate::provenance::{BuilderImage, CONTAINER_BUILD_TYPE, GitSource, Provenance, REPRO_BUILD_TYPE_PREFIX};
use crate::recipe::{self, BuildDef, Recipe};

/// Where slsa-github-generator's container-based builder mounts the checkout and runs.
pub const CONTAINER_WORKDIR: &str = "/workspace";

/// A recorded build, normalised over the build types we re-run.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// The recipe of `rebuilders/` that re-runs this build type.
    pub rebuilder: String,
    pub build_type: String,
    pub source: GitSource,
    /// The folder of the repository the build ran in (`""`: its root).
    pub path: String,
    pub builder_image: BuilderImage,
    pub build: BuildDef,
    /// Recorded by repro's build types; the container-based type records none.
    pub source_date_epoch: Option<i64>,
    /// container-based: the config file the build's parameters came from.
    pub config_path: Option<String>,
}

/// Finds the rebuilder for the provenance's build type and reads its parameters.
pub fn recorded(provenance: &Provenance, recipes: &[Recipe]) -> Result<Recorded, RebuildError> {
    let build_type = provenance.build_type.as_str();
    let Some(rebuilder) = recipes.iter().find(|r| r.build_type == build_type) else {
        let known = recipes
            .iter()
            .map(|r| r.build_type.as_str())
            .chain([recipe::REPRO_TOML_BUILD_TYPE])
            .collect::<Vec<_>>();
        if build_type != recipe::REPRO_TOML_BUILD_TYPE {
            return Err(RebuildError::BuildType {
                found: build_type.to_string(),
                known: known.join("\n  "),
            });
        }
        return repro_build(provenance, "repro-toml");
    };
    if build_type == CONTAINER_BUILD_TYPE {
        let c = provenance.container_build()?;
        let mut build = rebuilder.build_def()?;
        build.command = c.command;
        build.outputs = vec![c.artifact_path.trim_start_matches("./").to_string()];
        build.image = c.builder_image.uri.clone();
        // The recorded command is run as recorded: no flags of ours are injected into it; the
        // control run is where and who the generator's `docker run` was (the checkout mounted
        // at /workspace as the working directory, the image's default user, root).
        build.remap = false;
        build.control_path = Some(CONTAINER_WORKDIR.to_string());
        build.control_root = true;
        // The generator built in a full clone: the build may read its history.
        build.with_git = true;
        build.origin = format!("provenance ({})", rebuilder.name);
        return Ok(Recorded {
            rebuilder: rebuilder.name.clone(),
            build_type: build_type.to_string(),
            source: c.source,
            path: String::new(),
            builder_image: c.builder_image,
            build,
            source_date_epoch: None,
            config_path: Some(c.config_path),
        });
    }
    if build_type.starts_with(REPRO_BUILD_TYPE_PREFIX) {
        return repro_build(provenance, &rebuilder.name);
    }
    Err(RebuildError::BuildType {
        found: build_type.to_string(),
        known: format!(
            "{CONTAINER_BUILD_TYPE}\n  {REPRO_BUILD_TYPE_PREFIX}… (recipe `{}` names this type, but \
             only those two families have readers)",
            rebuilder.name
        ),
    })
}

fn repro_build(provenance: &Provenance, rebuilder: &str) -> Result<Recorded, RebuildError> {
    let r = provenance.repro_build()?;
    Ok(Recorded {
        rebuilder: rebuilder.to_string(),
        build_type: provenance.build_type.clone(),
        source: r.source,
        path: r.path,
        builder_image: r.builder_image,
        build: r.build,
        source_date_epoch: Some(r.source_date_epoch),
        config_path: None,
    })
}
