//! What a provenance says was built, as something `repro check` can run again: the source
//! commit and folder, the builder image, and a build definition. One reader per build type that
//! `rebuilders/` can re-run.

use serde::Serialize;
use serde_json::Value;

use super::RebuildError;
use crate::deps::{self, Dependency, Ecosystem};
use crate::intoto::fields::{Obj, invalid, wrong_type};
use crate::provenance::{
    BuildDefinition, BuilderImage, CONTAINER_BUILD_TYPE, GitSource, Provenance, ProvenanceError,
    REPRO_BUILD_TYPE_PREFIX,
};
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
    /// The package dependencies the build got (`resolvedDependencies` with a purl `uri`): a
    /// rebuild fetches exactly these and checks every digest.
    pub dependencies: Vec<Dependency>,
    /// The lockfile repro generated for the build (`externalParameters.generatedLockfiles`),
    /// used as it is instead of resolving again.
    pub generated_lockfile: Option<String>,
    /// `externalParameters.uncommittedChanges`: the outputs were built from a working tree that
    /// differs from the commit in these files (`repro build --allow-dirty`).
    pub uncommitted_changes: Vec<String>,
}

/// Where `repro build` records a lockfile it generated.
pub const GENERATED_LOCKFILES: &str = "generatedLockfiles";

impl Recorded {
    /// What the dependency step of the rebuild fetches, when anything was recorded.
    pub fn fetch_exactly(&self) -> Option<deps::Recorded> {
        (!self.dependencies.is_empty() || self.generated_lockfile.is_some()).then(|| deps::Recorded {
            dependencies: self.dependencies.clone(),
            lockfile: self.generated_lockfile.clone().map(String::into_bytes),
        })
    }
}

/// The package dependencies of SLSA v1 `resolvedDependencies` (entries whose `uri` is a purl of
/// an ecosystem repro fetches; the source and the image are recorded elsewhere), and a lockfile
/// repro generated.
pub(crate) fn dependencies(
    provenance: &Provenance,
) -> Result<(Vec<Dependency>, Option<String>), ProvenanceError> {
    let BuildDefinition::V1 {
        resolved_dependencies,
        external_parameters,
        ..
    } = &provenance.build
    else {
        return Ok((Vec::new(), None));
    };
    let field = "predicate.buildDefinition.resolvedDependencies";
    let mut found = Vec::new();
    let items = match resolved_dependencies {
        None => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(wrong_type(field, "an array").into()),
    };
    for (i, item) in items.iter().enumerate() {
        let entry = Obj::new(item, &format!("{field}[{i}]"))?;
        let Some(uri) = entry.opt_str("uri")? else {
            continue;
        };
        let Some((ecosystem, version)) = purl_parts(uri) else {
            continue;
        };
        let name = entry.str("name")?;
        let digest = entry.obj("digest")?;
        let sha256 = digest.str("sha256")?;
        if !deps::is_sha256_hex(sha256) {
            return Err(invalid(&digest.path_of("sha256"), "expected 64 lowercase hex digits").into());
        }
        let dependency = Dependency::new(ecosystem, name, &version, sha256);
        if dependency.uri != uri {
            return Err(invalid(
                &entry.path_of("uri"),
                format!(
                    "`{uri}` is not the purl of `{name}` {version} (`{}`)",
                    dependency.uri
                ),
            )
            .into());
        }
        found.push(dependency);
    }
    let params = Obj::new(
        external_parameters,
        "predicate.buildDefinition.externalParameters",
    )?;
    let mut lockfile = None;
    if let Some(Value::Array(locks)) = params.opt(GENERATED_LOCKFILES) {
        for (i, lock) in locks.iter().enumerate() {
            let lock = Obj::new(lock, &format!("{}[{i}]", params.path_of(GENERATED_LOCKFILES)))?;
            let content = lock.str("content")?;
            let sha256 = lock.str("sha256")?;
            if deps::sha256_hex(content.as_bytes()) != sha256 {
                return Err(invalid(&lock.path_of("sha256"), "is not the sha256 of `content`").into());
            }
            if lock.str("ecosystem")? == Ecosystem::Cargo.name() {
                lockfile = Some(content.to_string());
            }
        }
    }
    Ok((found, lockfile))
}

/// The ecosystem and the (decoded) version of a purl repro records; `None` for other URIs.
fn purl_parts(uri: &str) -> Option<(Ecosystem, String)> {
    let rest = uri.strip_prefix("pkg:")?;
    let (kind, path) = rest.split_once('/')?;
    let ecosystem = Ecosystem::ALL.into_iter().find(|e| e.purl_type() == kind)?;
    let (_, version) = path.rsplit_once('@')?;
    Some((ecosystem, percent_decode(version)?))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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
            dependencies: Vec::new(),
            generated_lockfile: None,
            uncommitted_changes: Vec::new(),
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
    let (dependencies, generated_lockfile) = dependencies(provenance)?;
    Ok(Recorded {
        rebuilder: rebuilder.to_string(),
        build_type: provenance.build_type.clone(),
        source: r.source,
        path: r.path,
        builder_image: r.builder_image,
        build: r.build,
        source_date_epoch: Some(r.source_date_epoch),
        config_path: None,
        dependencies,
        generated_lockfile,
        uncommitted_changes: r.uncommitted_changes,
    })
}
