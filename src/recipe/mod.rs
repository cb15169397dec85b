//! Recipes: how a build type is re-run (data in `rebuilders/*.toml`, compiled in), and a
//! project's own `repro.toml`. Both resolve to a `BuildDef`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod checks;

use crate::units::{parse_duration, parse_size};

/// What to build, before any variation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildDef {
    /// Argument vector run in the source root inside the container.
    pub command: Vec<String>,
    /// Globs, relative to the source root, of the build's outputs; empty means every file the
    /// build created or changed.
    pub outputs: Vec<String>,
    /// Globs that are never outputs.
    pub exclude_outputs: Vec<String>,
    /// Environment the project or recipe asks for (`$HOME` expands to the run's home).
    pub env: BTreeMap<String, String>,
    /// Builder image: one of ours (`default`, `rust`, `go`) or a `name@sha256:…` reference.
    pub image: String,
    /// Inject build-path remapping flags (appended to the usual defaults).
    pub remap: bool,
    /// Allow the network (recorded as non-hermetic in every report).
    pub network: bool,
    pub timeout_secs: u64,
    pub memory_bytes: u64,
    /// Most a build may write outside its build directory: each of `/tmp`, `/var/tmp`, its
    /// home and the output folder is a tmpfs of this size (docs/check.md, "Limits").
    /// Provenance recorded before the field existed gets the default.
    #[serde(default = "default_disk_bytes")]
    pub disk_bytes: u64,
    /// Where this definition came from: `repro.toml` or `recipe <name>`.
    pub origin: String,
    /// The SLSA build type `repro build` records for it.
    pub build_type: String,
    /// The control run's build path instead of `/build/a`: a recorded build that ran in a
    /// known folder (slsa-github-generator's container-based builder runs in `/workspace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_path: Option<String>,
    /// The control run's user is root (uid 0) instead of `builder`: a recorded build that ran
    /// as the image's default user, root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control_root: bool,
    /// The build gets a standalone copy of the repository's history as `.git` (for
    /// `git describe`, setuptools-scm, …); the project must be the repository's root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_git: bool,
    /// What makes the build work offline, added to every run unless the network is allowed:
    /// `cargo --offline --locked`, `GOPROXY=off`, `PIP_NO_INDEX=1`.
    #[serde(default, skip_serializing_if = "Offline::is_empty")]
    pub offline: Offline,
}

/// Arguments appended to the command and environment added when the build has no network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offline {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Offline {
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.env.is_empty()
    }
}

const DEFAULT_TIMEOUT: &str = "30m";
const DEFAULT_MEMORY: &str = "4G";
const DEFAULT_DISK: &str = "1G";

/// The disk limit when nothing sets one: 1 GiB.
pub fn default_disk_bytes() -> u64 {
    1 << 30
}

/// The limits a recipe or repro.toml sets, parsed.
struct Limits {
    timeout_secs: u64,
    memory_bytes: u64,
    disk_bytes: u64,
}
/// Build type recorded for projects built from their own `repro.toml`.
pub const REPRO_TOML_BUILD_TYPE: &str = "https://github.com/repro/repro/buildtypes/repro-toml/v1";

/// A recipe file of `rebuilders/`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub build_type: String,
    pub image: String,
    #[serde(default)]
    pub detect: Vec<String>,
    #[serde(default)]
    pub priority: i64,
    pub command: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub exclude_outputs: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub remap: bool,
    /// Give the build the repository's history as `.git` (the project must be its root).
    #[serde(default)]
    pub git: bool,
    #[serde(default)]
    pub network: bool,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default)]
    pub disk: Option<String>,
    /// Added to every run unless the network is allowed (`[offline] args`, `[offline] env`).
    #[serde(default)]
    pub offline: Offline,
}

fn yes() -> bool {
    true
}

/// The recipes shipped with repro (the files of `rebuilders/`).
const BUILTIN: &[(&str, &str)] = &[
    ("make.toml", include_str!("../../rebuilders/make.toml")),
    ("cargo.toml", include_str!("../../rebuilders/cargo.toml")),
    ("go.toml", include_str!("../../rebuilders/go.toml")),
    ("python.toml", include_str!("../../rebuilders/python.toml")),
    ("shell.toml", include_str!("../../rebuilders/shell.toml")),
    ("npm.toml", include_str!("../../rebuilders/npm.toml")),
    (
        "container-based.toml",
        include_str!("../../rebuilders/container-based.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("no recipe applies to {dir}: it has none of {files}, and no repro.toml")]
    NoneApplies { dir: PathBuf, files: String },
}

/// Parses a recipe, naming the file in every error.
pub fn parse_recipe(file: &str, text: &str) -> Result<Recipe, RecipeError> {
    let invalid = |message: String| RecipeError::Invalid {
        file: file.to_string(),
        message,
    };
    let r: Recipe = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if r.command.is_empty() && r.image != "from-provenance" {
        return Err(invalid("`command` must not be empty".into()));
    }
    check_limits(r.timeout.as_deref(), r.memory.as_deref(), r.disk.as_deref()).map_err(invalid)?;
    Ok(r)
}

fn check_limits(timeout: Option<&str>, memory: Option<&str>, disk: Option<&str>) -> Result<Limits, String> {
    let t = parse_duration(timeout.unwrap_or(DEFAULT_TIMEOUT)).map_err(|e| format!("timeout: {e}"))?;
    let m = parse_size(memory.unwrap_or(DEFAULT_MEMORY)).map_err(|e| format!("memory: {e}"))?;
    let d = parse_size(disk.unwrap_or(DEFAULT_DISK)).map_err(|e| format!("disk: {e}"))?;
    if t.as_secs() == 0 {
        return Err("timeout: must be more than 0s".into());
    }
    if d < MIN_DISK_BYTES {
        return Err("disk: must be at least 1M (the build's home and output folder live there)".into());
    }
    Ok(Limits {
        timeout_secs: t.as_secs(),
        memory_bytes: m,
        disk_bytes: d,
    })
}

/// The smallest disk limit: the entry script keeps its lists of the build's files there.
pub const MIN_DISK_BYTES: u64 = 1 << 20;

/// The recipes: built in, or every `*.toml` of `dir`.
pub fn load(dir: Option<&Path>) -> Result<Vec<Recipe>, RecipeError> {
    let mut recipes = Vec::new();
    match dir {
        None => {
            for (file, text) in BUILTIN {
                recipes.push(parse_recipe(file, text)?);
            }
        }
        Some(dir) => {
            let read = |path: &Path| {
                std::fs::read_to_string(path).map_err(|source| RecipeError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            };
            let entries = std::fs::read_dir(dir).map_err(|source| RecipeError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                recipes.push(parse_recipe(&p.display().to_string(), &read(&p)?)?);
            }
        }
    }
    recipes.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
    Ok(recipes)
}

impl Recipe {
    pub fn applies_to(&self, dir: &Path) -> bool {
        self.detect.iter().any(|f| dir.join(f).exists())
    }

    pub fn build_def(&self) -> Result<BuildDef, RecipeError> {
        let limits = check_limits(
            self.timeout.as_deref(),
            self.memory.as_deref(),
            self.disk.as_deref(),
        )
        .map_err(|message| RecipeError::Invalid {
            file: format!("recipe {}", self.name),
            message,
        })?;
        Ok(BuildDef {
            command: self.command.clone(),
            outputs: self.outputs.clone(),
            exclude_outputs: self.exclude_outputs.clone(),
            env: self.env.clone(),
            image: self.image.clone(),
            remap: self.remap,
            network: self.network,
            timeout_secs: limits.timeout_secs,
            memory_bytes: limits.memory_bytes,
            disk_bytes: limits.disk_bytes,
            origin: format!("recipe {}", self.name),
            build_type: self.build_type.clone(),
            control_path: None,
            control_root: false,
            with_git: false,
            offline: self.offline.clone(),
        })
    }
}

/// `repro.toml` of a project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub build: ProjectBuild,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectBuild {
    pub command: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub exclude_outputs: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
    /// Most the build may write outside its build directory (`/tmp`, home, outputs).
    #[serde(default)]
    pub disk: Option<String>,
    #[serde(default)]
    pub network: bool,
    #[serde(default = "yes")]
    pub remap: bool,
    /// Give the build the repository's history as `.git` (the project must be its root).
    #[serde(default)]
    pub git: bool,
}

/// The build definition of the project in `dir`: its `repro.toml` if present, else the
/// highest-priority recipe that applies.
pub fn resolve(dir: &Path, recipes: &[Recipe]) -> Result<BuildDef, RecipeError> {
    let file = dir.join("repro.toml");
    if file.exists() {
        let text = std::fs::read_to_string(&file).map_err(|source| RecipeError::Read {
            path: file.clone(),
            source,
        })?;
        return parse_project(&file.display().to_string(), &text);
    }
    match recipes.iter().find(|r| r.applies_to(dir)) {
        Some(r) => r.build_def(),
        None => Err(RecipeError::NoneApplies {
            dir: dir.to_path_buf(),
            files: recipes
                .iter()
                .flat_map(|r| r.detect.iter().cloned())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

pub fn parse_project(file: &str, text: &str) -> Result<BuildDef, RecipeError> {
    let invalid = |message: String| RecipeError::Invalid {
        file: file.to_string(),
        message,
    };
    let p: ProjectFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let b = p.build;
    if b.command.is_empty() {
        return Err(invalid("[build] command must not be empty".into()));
    }
    let limits =
        check_limits(b.timeout.as_deref(), b.memory.as_deref(), b.disk.as_deref()).map_err(invalid)?;
    Ok(BuildDef {
        command: b.command,
        outputs: b.outputs,
        exclude_outputs: b.exclude_outputs,
        env: b.env,
        image: b.image.unwrap_or_else(|| "default".into()),
        remap: b.remap,
        network: b.network,
        timeout_secs: limits.timeout_secs,
        memory_bytes: limits.memory_bytes,
        disk_bytes: limits.disk_bytes,
        origin: "repro.toml".into(),
        build_type: REPRO_TOML_BUILD_TYPE.into(),
        control_path: None,
        control_root: false,
        with_git: b.git,
        offline: Offline::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_recipes_parse_and_are_ordered() {
        let r = load(None).unwrap();
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["shell", "cargo", "go", "python", "make", "npm", "container-based"]
        );
        for recipe in &r {
            let d = recipe.build_def().unwrap();
            assert_eq!(d.timeout_secs, 1800);
        }
    }

    #[test]
    fn the_repo_rebuilders_dir_matches_the_builtins() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rebuilders");
        assert_eq!(load(Some(&dir)).unwrap(), load(None).unwrap());
    }

    #[test]
    fn resolves_repro_toml_first_then_recipes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Cargo.toml"), "").unwrap();
        std::fs::write(d.path().join("Makefile"), "").unwrap();
        let recipes = load(None).unwrap();
        assert_eq!(resolve(d.path(), &recipes).unwrap().origin, "recipe cargo");
        std::fs::write(
            d.path().join("repro.toml"),
            "[build]\ncommand = [\"sh\", \"b.sh\"]\noutputs = [\"out/**\"]\ntimeout = \"2m\"\nmemory = \"1G\"\ndisk = \"2GiB\"\n",
        )
        .unwrap();
        let def = resolve(d.path(), &recipes).unwrap();
        assert_eq!(
            (
                def.origin.as_str(),
                def.timeout_secs,
                def.memory_bytes,
                def.disk_bytes
            ),
            ("repro.toml", 120, 1 << 30, 2 << 30)
        );
        assert_eq!(def.image, "default");
        let empty = tempfile::tempdir().unwrap();
        let e = resolve(empty.path(), &recipes).unwrap_err().to_string();
        assert!(e.contains("no recipe applies") && e.contains("go.mod"), "{e}");
    }

    #[test]
    fn bad_files_name_the_field() {
        let e = parse_project("repro.toml", "[build]\ncommand = [\"x\"]\ntimeot = \"1m\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("repro.toml") && e.contains("timeot"), "{e}");
        let e = parse_project("repro.toml", "[build]\ncommand = []\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("command"), "{e}");
        let e = parse_project("repro.toml", "[build]\ncommand = [\"x\"]\nmemory = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory"), "{e}");
        for bad in ["\"0\"", "\"512K\"", "\"huge\""] {
            let e = parse_project(
                "repro.toml",
                &format!("[build]\ncommand = [\"x\"]\ndisk = {bad}\n"),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("disk"), "{e}");
        }
        assert_eq!(
            parse_project("repro.toml", "[build]\ncommand = [\"x\"]\n")
                .unwrap()
                .disk_bytes,
            default_disk_bytes()
        );
        assert!(parse_project("repro.toml", "not toml [").is_err());
    }
}
