//! Cargo: `Cargo.lock` (v1–v4) read and classified, crates fetched with `cargo vendor` into a
//! directory source, each crate's `.cargo-checksum.json` checked against the lockfile, and the
//! build pointed at the vendored crates by source replacement with `--offline --locked`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use fs_err as fs;
use serde::Deserialize;

use super::{
    BuildSetup, Dependency, DepsError, Ecosystem, FetchPlan, FetchStep, Provision, Recorded, STORE_MOUNT,
    Unverifiable, is_sha256_hex, read_optional, read_text,
};

const FETCH_SCRIPT: &str = include_str!("cargo-fetch.sh");

/// crates.io, as lockfiles spell it (git index, and the sparse index since cargo 1.68).
const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// How many `Cargo.toml` files a tree may have before we stop looking for path dependencies.
const MAX_MANIFESTS: usize = 10_000;

/// One `[[package]]` of a lockfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// `None` for workspace members and path dependencies.
    pub source: Option<String>,
    /// sha256 of the `.crate`, lowercase hex; registry packages only.
    pub checksum: Option<String>,
}

/// A parsed `Cargo.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockfile {
    /// The `version` field; absent in v1 (and early v2) lockfiles.
    pub version: Option<i64>,
    pub packages: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct RawLock {
    version: Option<i64>,
    #[serde(default)]
    package: Vec<RawPackage>,
    /// v1 keeps checksums here: `"checksum NAME VERSION (SOURCE)" = "HEX"`.
    #[serde(default)]
    metadata: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

impl Lockfile {
    pub fn parse(text: &str, path: &Path) -> Result<Lockfile, DepsError> {
        let bad = |reason: String| DepsError::Lockfile {
            path: path.to_owned(),
            reason,
        };
        let raw: RawLock =
            toml::from_str(text).map_err(|e| bad(format!("not a Cargo.lock: {}", e.message())))?;
        let mut v1 = BTreeMap::new();
        for (key, value) in &raw.metadata {
            let Some(rest) = key.strip_prefix("checksum ") else {
                continue;
            };
            let mut parts = rest.splitn(3, ' ');
            let (Some(name), Some(version), Some(source)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(format!("malformed checksum entry {key:?}")));
            };
            let source = source.trim_start_matches('(').trim_end_matches(')');
            if let Some(sum) = value.as_str().filter(|s| *s != "<none>") {
                v1.insert(
                    (name.to_owned(), version.to_owned(), source.to_owned()),
                    sum.to_owned(),
                );
            }
        }
        let mut packages = Vec::with_capacity(raw.package.len());
        for p in raw.package {
            let checksum = match (&p.checksum, &p.source) {
                (Some(sum), _) => Some(sum.clone()),
                (None, Some(source)) => v1
                    .get(&(p.name.clone(), p.version.clone(), source.clone()))
                    .cloned(),
                (None, None) => None,
            };
            if let Some(sum) = &checksum
                && !is_sha256_hex(sum)
            {
                return Err(bad(format!(
                    "{} {}: checksum {sum:?} is not a sha256",
                    p.name, p.version
                )));
            }
            packages.push(LockedPackage {
                name: p.name,
                version: p.version,
                source: p.source,
                checksum,
            });
        }
        Ok(Lockfile {
            version: raw.version,
            packages,
        })
    }

    pub fn read(path: &Path) -> Result<Lockfile, DepsError> {
        Lockfile::parse(&read_text(path)?, path)
    }

    /// The crates.io packages with their checksums, or every package repro cannot verify.
    pub fn registry_packages(&self) -> Result<Vec<(&LockedPackage, &str)>, Vec<Unverifiable>> {
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        for p in &self.packages {
            let Some(source) = &p.source else { continue };
            let why = if CRATES_IO.contains(&source.as_str()) {
                match &p.checksum {
                    Some(sum) => {
                        ok.push((p, sum.as_str()));
                        continue;
                    }
                    None => format!("{source}, no checksum in Cargo.lock"),
                }
            } else if source.starts_with("git+") {
                format!("git: {source}")
            } else {
                format!("not crates.io: {source}")
            };
            refused.push(Unverifiable {
                name: p.name.clone(),
                version: p.version.clone(),
                source: why,
            });
        }
        if refused.is_empty() { Ok(ok) } else { Err(refused) }
    }
}

/// `None` when there is no `Cargo.toml`.
pub(super) fn provision(root: &Path) -> Result<Option<Provision>, DepsError> {
    if !root.join("Cargo.toml").is_file() {
        return Ok(None);
    }
    if let Some(evidence) = vendored(root)? {
        return Ok(Some(Provision::Vendored { evidence }));
    }
    Ok(Some(if root.join("Cargo.lock").is_file() {
        Provision::Locked {
            lockfile: "Cargo.lock".to_owned(),
        }
    } else {
        Provision::Unlocked
    }))
}

/// Whether `.cargo/config.toml` (or the older `.cargo/config`) replaces crates.io with a
/// directory source that exists in the tree.
fn vendored(root: &Path) -> Result<Option<String>, DepsError> {
    for name in [".cargo/config.toml", ".cargo/config"] {
        let path = root.join(name);
        if !path.is_file() {
            continue;
        }
        let Ok(config) = read_text(&path)?.parse::<toml::Table>() else {
            continue;
        };
        let Some(sources) = config.get("source").and_then(toml::Value::as_table) else {
            continue;
        };
        // Follow the replace-with chain, a bounded number of hops (cargo refuses cycles too).
        let mut current = "crates-io";
        for _ in 0..8 {
            let Some(source) = sources.get(current).and_then(toml::Value::as_table) else {
                break;
            };
            if let Some(dir) = source.get("directory").and_then(toml::Value::as_str) {
                // Relative directories are relative to the folder holding `.cargo/`.
                if root.join(dir).is_dir() {
                    return Ok(Some(format!(
                        "{name} replaces crates-io with the directory {dir}"
                    )));
                }
                break;
            }
            match source.get("replace-with").and_then(toml::Value::as_str) {
                Some(next) => current = next,
                None => break,
            }
        }
    }
    Ok(None)
}

/// Path dependencies (in any manifest of the tree) that point outside it: cargo would read them
/// from the host, and nothing records what they were.
pub fn outside_paths(root: &Path) -> Result<Vec<Unverifiable>, DepsError> {
    let mut found = Vec::new();
    for manifest in manifests(root)? {
        let Ok(doc) = read_text(&manifest)?.parse::<toml::Table>() else {
            continue; // cargo reports a broken manifest better than we would
        };
        let dir = manifest.parent().unwrap_or(root);
        let rel = manifest
            .strip_prefix(root)
            .unwrap_or(&manifest)
            .display()
            .to_string();
        for (name, path) in path_dependencies(&doc) {
            if !lexically_inside(root, &dir.join(&path)) {
                found.push(Unverifiable {
                    name,
                    version: "*".to_owned(),
                    source: format!("path {path} in {rel}, outside the project"),
                });
            }
        }
    }
    Ok(found)
}

/// Every `Cargo.toml` below `root`, skipping build output, VCS data and vendored crates.
fn manifests(root: &Path) -> Result<Vec<PathBuf>, DepsError> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name();
            if kind.is_dir() && !matches!(name.to_str(), Some("target" | "vendor" | ".git" | "node_modules"))
            {
                pending.push(entry.path());
            } else if kind.is_file() && name == "Cargo.toml" {
                found.push(entry.path());
                if found.len() > MAX_MANIFESTS {
                    return Err(DepsError::Lockfile {
                        path: root.to_owned(),
                        reason: format!("more than {MAX_MANIFESTS} Cargo.toml files"),
                    });
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `(name, path)` of every dependency with a `path` key, in every table cargo reads them from.
fn path_dependencies(doc: &toml::Table) -> Vec<(String, String)> {
    const KINDS: [&str; 5] = [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "dev_dependencies",
        "build_dependencies",
    ];
    fn sub<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Table> {
        table.get(key).and_then(toml::Value::as_table)
    }
    let mut tables: Vec<&toml::Table> = Vec::new();
    for kind in KINDS {
        tables.extend(sub(doc, kind));
        for target in sub(doc, "target").into_iter().flat_map(|t| t.values()) {
            tables.extend(target.as_table().and_then(|t| sub(t, kind)));
        }
    }
    tables.extend(sub(doc, "workspace").and_then(|w| sub(w, "dependencies")));
    tables.extend(doc.get("replace").and_then(toml::Value::as_table));
    for patch in doc
        .get("patch")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|t| t.values())
    {
        tables.extend(patch.as_table());
    }
    let mut found = Vec::new();
    for table in tables {
        for (name, spec) in table {
            if let Some(path) = spec.get("path").and_then(toml::Value::as_str) {
                found.push((name.clone(), path.to_owned()));
            }
        }
    }
    found
}

/// Whether `path` stays inside `root` without touching the file system (`..` resolved by
/// position; a symlink pointing out is the tree's own business, like any other file).
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let mut depth: usize = 0;
    for part in rel.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Refuses, before any network, what cannot be verified: git and foreign-registry sources in the
/// lockfile, path dependencies outside the tree.
fn refuse_unverifiable(root: &Path, lock: Option<&Lockfile>) -> Result<(), DepsError> {
    let mut refused = outside_paths(root)?;
    if let Some(Err(more)) = lock.map(Lockfile::registry_packages) {
        refused.extend(more);
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(DepsError::Unverifiable {
            ecosystem: Ecosystem::Cargo,
            dependencies: refused,
        })
    }
}

pub(super) fn key_inputs(root: &Path) -> Result<Vec<(String, Vec<u8>)>, DepsError> {
    let mut inputs = Vec::new();
    for name in [
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain.toml",
        "rust-toolchain",
    ] {
        if let Some(bytes) = read_optional(root, name)? {
            inputs.push((name.to_owned(), bytes));
        }
    }
    if let Some(lock) = read_optional(root, "Cargo.lock")? {
        inputs.push(("Cargo.lock".to_owned(), lock));
        return Ok(inputs);
    }
    // No lockfile: what cargo resolves from is every manifest of the tree.
    for manifest in manifests(root)? {
        let rel = manifest
            .strip_prefix(root)
            .unwrap_or(&manifest)
            .display()
            .to_string();
        inputs.push((rel, super::read_bounded(&manifest)?));
    }
    Ok(inputs)
}

pub(super) fn plan_fetch(root: &Path, recorded: Option<&Recorded>) -> Result<FetchPlan, DepsError> {
    let mut inputs = Vec::new();
    let lock = match recorded.and_then(|r| r.lockfile.as_deref()) {
        Some(bytes) => {
            let path = Path::new("recorded Cargo.lock");
            let text = std::str::from_utf8(bytes).map_err(|_| DepsError::Lockfile {
                path: path.to_owned(),
                reason: "not UTF-8 text".to_owned(),
            })?;
            let lock = Lockfile::parse(text, path)?;
            inputs.push(("Cargo.lock".to_owned(), bytes.to_vec()));
            Some(lock)
        }
        None if root.join("Cargo.lock").is_file() => Some(Lockfile::read(&root.join("Cargo.lock"))?),
        None => None,
    };
    refuse_unverifiable(root, lock.as_ref())?;
    Ok(FetchPlan {
        ecosystem: Ecosystem::Cargo,
        image: Ecosystem::Cargo.builder_image(),
        inputs,
        steps: vec![FetchStep {
            label: "cargo vendor",
            network: true,
            out_writable: true,
            argv: super::sh(FETCH_SCRIPT, &[]),
            env: BTreeMap::new(),
        }],
    })
}

/// Checks `out/vendor` against `out/Cargo.lock` (the lockfile the fetch used): every crates.io
/// package is there, its `.cargo-checksum.json` names the lockfile's checksum, and nothing else
/// is.
pub(super) fn verify_fetch(root: &Path, out: &Path) -> Result<Vec<Dependency>, DepsError> {
    let lock_path = out.join("Cargo.lock");
    let lock = Lockfile::read(&lock_path)?;
    // A lockfile generated in the fetch can bring git sources the manifests name.
    refuse_unverifiable(root, Some(&lock))?;
    let packages = lock
        .registry_packages()
        .map_err(|dependencies| DepsError::Unverifiable {
            ecosystem: Ecosystem::Cargo,
            dependencies,
        })?;
    let vendor = out.join("vendor");
    let mut expected = BTreeSet::new();
    let mut deps = Vec::with_capacity(packages.len());
    for (package, checksum) in packages {
        let dir_name = format!("{}-{}", package.name, package.version);
        let label = format!("cargo {}@{}", package.name, package.version);
        let sums = vendor.join(&dir_name).join(".cargo-checksum.json");
        if !sums.is_file() {
            return Err(DepsError::Missing {
                dependency: label,
                reason: format!("in Cargo.lock but not vendored ({} is missing)", sums.display()),
            });
        }
        let actual = vendored_checksum(&sums)?;
        if actual != checksum {
            return Err(DepsError::DigestMismatch {
                dependency: label,
                expected: checksum.to_owned(),
                actual,
            });
        }
        expected.insert(dir_name);
        deps.push(Dependency::new(
            Ecosystem::Cargo,
            &package.name,
            &package.version,
            checksum,
        ));
    }
    for entry in fs::read_dir(&vendor)? {
        let name = entry?.file_name();
        if !expected.contains(name.to_string_lossy().as_ref()) {
            return Err(DepsError::Store {
                path: vendor.join(&name),
                reason: "vendored, but not a crates.io package of Cargo.lock".to_owned(),
            });
        }
    }
    Ok(deps)
}

/// The `package` field of a vendored crate's `.cargo-checksum.json`: the `.crate`'s sha256.
fn vendored_checksum(path: &Path) -> Result<String, DepsError> {
    #[derive(Deserialize)]
    struct Sums {
        package: Option<String>,
    }
    let sums: Sums = serde_json::from_str(&read_text(path)?).map_err(|e| DepsError::Lockfile {
        path: path.to_owned(),
        reason: format!("not a .cargo-checksum.json: {e}"),
    })?;
    Ok(sums.package.unwrap_or_default())
}

/// cargo, offline, against the vendored crates: source replacement by `--config`, and the
/// lockfile the fetch used placed in the build folder when the project has none.
pub(super) fn build_setup(root: &Path) -> BuildSetup {
    let config = |kv: String| ["--config".to_owned(), kv];
    let mut setup = BuildSetup {
        env: BTreeMap::from([("CARGO_NET_OFFLINE".to_owned(), "true".to_owned())]),
        args: [
            config("source.crates-io.replace-with=\"repro-deps\"".to_owned()),
            config(format!("source.repro-deps.directory=\"{STORE_MOUNT}/vendor\"")),
        ]
        .concat(),
        place: Vec::new(),
    };
    if !root.join("Cargo.lock").is_file() {
        setup
            .place
            .push(("Cargo.lock".to_owned(), "Cargo.lock".to_owned()));
    }
    setup
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Lockfile, DepsError> {
        Lockfile::parse(text, Path::new("Cargo.lock"))
    }

    const SUM: &str = "3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4";

    #[test]
    fn reads_this_repositorys_own_lockfile() {
        let lock = Lockfile::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
        assert_eq!(lock.version, Some(4));
        let registry = lock.registry_packages().unwrap();
        assert!(registry.len() > 100, "{}", registry.len());
        assert!(registry.iter().any(|(p, _)| p.name == "serde"));
        // The workspace itself has no source and is not a registry package.
        assert!(
            lock.packages
                .iter()
                .any(|p| p.name == "repro" && p.source.is_none())
        );
        assert!(registry.iter().all(|(p, _)| p.name != "repro"));
    }

    #[test]
    fn reads_v1_checksums_from_the_metadata_table() {
        let text = format!(
            r#"
[[package]]
name = "itoa"
version = "1.0.19"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "p1"
version = "0.1.0"
dependencies = ["itoa 1.0.19 (registry+https://github.com/rust-lang/crates.io-index)"]

[metadata]
"checksum itoa 1.0.19 (registry+https://github.com/rust-lang/crates.io-index)" = "{SUM}"
"#
        );
        let lock = parse(&text).unwrap();
        assert_eq!(lock.version, None);
        let registry = lock.registry_packages().unwrap();
        assert_eq!(registry.len(), 1);
        assert_eq!(
            registry.first().map(|(p, s)| (p.name.as_str(), *s)),
            Some(("itoa", SUM))
        );
    }

    #[test]
    fn refuses_git_other_registries_and_missing_checksums_naming_each() {
        let text = format!(
            r#"
version = 3
[[package]]
name = "a"
version = "1.0.0"
source = "git+https://github.com/x/a?branch=main#0123456789abcdef"
[[package]]
name = "b"
version = "2.0.0"
source = "registry+https://my.registry/index"
checksum = "{SUM}"
[[package]]
name = "c"
version = "3.0.0"
source = "sparse+https://index.crates.io/"
[[package]]
name = "d"
version = "4.0.0"
source = "sparse+https://index.crates.io/"
checksum = "{SUM}"
"#
        );
        let refused = parse(&text).unwrap().registry_packages().unwrap_err();
        let names: Vec<_> = refused.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let err = DepsError::Unverifiable {
            ecosystem: Ecosystem::Cargo,
            dependencies: refused,
        };
        let text = err.to_string();
        assert!(
            text.contains("a 1.0.0 (git: git+https://github.com/x/a") && text.contains("b 2.0.0"),
            "{text}"
        );
    }

    #[test]
    fn malformed_lockfiles_are_errors() {
        for text in [
            "[[package]]\nname = 1\n",
            "version = 3\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = \"sparse+https://index.crates.io/\"\nchecksum = \"XYZ\"\n",
            "[metadata]\n\"checksum a\" = \"x\"\n",
            "not toml [",
        ] {
            assert!(matches!(parse(text), Err(DepsError::Lockfile { .. })), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn hostile_lockfiles_never_panic(text in "(\\[\\[package\\]\\]\n|name = \"[a-z]{0,3}\"\n|version = [0-9]\n|source = \"[a-z+:/.]{0,12}\"\n|checksum = \"[0-9a-f]{0,64}\"\n|\\[metadata\\]\n|\"checksum [a-z ()]{0,10}\" = \"[a-f0-9<>]{0,8}\"\n|.{0,8}\n){0,12}") {
            if let Ok(lock) = parse(&text) {
                let _ = lock.registry_packages();
            }
        }
    }

    #[test]
    fn path_dependencies_outside_the_tree_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("crates/inner")).unwrap();
        fs::write(
            root.join("Cargo.toml"),
            r#"
[package]
name = "top"
version = "0.1.0"
[dependencies]
inner = { path = "crates/inner" }
sneaky = { path = "crates/../../elsewhere" }
[target.'cfg(unix)'.dev-dependencies]
far = { path = "/opt/far" }
[patch.crates-io]
itoa = { path = "../itoa" }
"#,
        )
        .unwrap();
        fs::write(
            root.join("crates/inner/Cargo.toml"),
            "[package]\nname = \"inner\"\n[build-dependencies]\nsibling = { path = \"../../\" }\n",
        )
        .unwrap();
        let refused = outside_paths(root).unwrap();
        let names: BTreeSet<_> = refused.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["sneaky", "far", "itoa"]));
        assert!(matches!(
            plan_fetch(root, None),
            Err(DepsError::Unverifiable { dependencies, .. }) if dependencies.len() == 3
        ));
    }

    #[test]
    fn provision_sees_vendoring_locks_and_their_absence() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(provision(root).unwrap(), None);
        fs::write(root.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Unlocked));
        fs::write(root.join("Cargo.lock"), "version = 4\n").unwrap();
        assert!(matches!(provision(root).unwrap(), Some(Provision::Locked { .. })));
        fs::create_dir_all(root.join(".cargo")).unwrap();
        fs::write(
            root.join(".cargo/config.toml"),
            "[source.crates-io]\nreplace-with = \"v\"\n[source.v]\ndirectory = \"vendor\"\n",
        )
        .unwrap();
        // The replacement names a folder that is not there: not vendored.
        assert!(matches!(provision(root).unwrap(), Some(Provision::Locked { .. })));
        fs::create_dir(root.join("vendor")).unwrap();
        assert!(matches!(
            provision(root).unwrap(),
            Some(Provision::Vendored { .. })
        ));
        // A cycle does not loop forever.
        fs::write(
            root.join(".cargo/config.toml"),
            "[source.crates-io]\nreplace-with = \"a\"\n[source.a]\nreplace-with = \"crates-io\"\n",
        )
        .unwrap();
        assert!(matches!(provision(root).unwrap(), Some(Provision::Locked { .. })));
    }

    fn vendored_crate(out: &Path, name: &str, version: &str, sum: &str) {
        let dir = out.join("vendor").join(format!("{name}-{version}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(".cargo-checksum.json"),
            format!(r#"{{"files":{{}},"package":"{sum}"}}"#),
        )
        .unwrap();
    }

    #[test]
    fn verification_checks_every_vendored_crate_against_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (root, out) = (dir.path().join("src"), dir.path().join("out"));
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(out.join("vendor")).unwrap();
        fs::write(root.join("Cargo.toml"), "[package]\nname = \"p1\"\n").unwrap();
        fs::write(
            out.join("Cargo.lock"),
            format!(
                "version = 4\n[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"{}\"\nchecksum = \"{SUM}\"\n\
                 [[package]]\nname = \"p1\"\nversion = \"0.1.0\"\n",
                CRATES_IO[0]
            ),
        )
        .unwrap();
        assert!(matches!(
            verify_fetch(&root, &out),
            Err(DepsError::Missing { .. })
        ));
        vendored_crate(&out, "itoa", "1.0.19", &"0".repeat(64));
        let err = verify_fetch(&root, &out).unwrap_err();
        assert!(
            matches!(&err, DepsError::DigestMismatch { dependency, .. } if dependency.contains("itoa@1.0.19")),
            "{err}"
        );
        vendored_crate(&out, "itoa", "1.0.19", SUM);
        let deps = verify_fetch(&root, &out).unwrap();
        assert_eq!(
            deps,
            vec![Dependency::new(Ecosystem::Cargo, "itoa", "1.0.19", SUM)]
        );
        vendored_crate(&out, "extra", "1.0.0", SUM);
        assert!(matches!(verify_fetch(&root, &out), Err(DepsError::Store { .. })));
    }

    #[test]
    fn builds_replace_crates_io_and_get_a_generated_lockfile() {
        let dir = tempfile::tempdir().unwrap();
        let setup = build_setup(dir.path());
        assert_eq!(setup.args.iter().filter(|a| *a == "--config").count(), 2);
        assert!(
            setup
                .args
                .contains(&"source.repro-deps.directory=\"/deps/vendor\"".to_owned())
        );
        assert_eq!(
            setup.place,
            vec![("Cargo.lock".to_owned(), "Cargo.lock".to_owned())]
        );
        fs::write(dir.path().join("Cargo.lock"), "").unwrap();
        assert!(build_setup(dir.path()).place.is_empty());
    }

    #[test]
    fn a_rebuild_fetches_with_the_recorded_lockfile() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"p1\"\n").unwrap();
        let lock = format!(
            "version = 4\n[[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\nsource = \"{}\"\nchecksum = \"{SUM}\"\n",
            CRATES_IO[1]
        );
        let recorded = Recorded {
            dependencies: vec![],
            lockfile: Some(lock.clone().into_bytes()),
        };
        let plan = plan_fetch(dir.path(), Some(&recorded)).unwrap();
        assert_eq!(plan.inputs, vec![("Cargo.lock".to_owned(), lock.into_bytes())]);
        assert_eq!(plan.image, "rust");
        assert!(plan.steps.iter().all(|s| s.network));
    }
}
