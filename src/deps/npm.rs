//! npm: `package-lock.json` (or `npm-shrinkwrap.json`, lockfile versions 2 and 3) read, the
//! tarballs it pins fetched by `npm ci --ignore-scripts` into an npm cache, each tarball checked
//! again on the host against the lockfile's `integrity`, and builds pointed at that cache with
//! the network off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use fs_err as fs;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

use super::{
    BuildSetup, Dependency, DepsError, Ecosystem, FetchPlan, FetchStep, Provision, STORE_MOUNT, Unverifiable,
    read_optional, read_text, sha256_file,
};

const FETCH_SCRIPT: &str = include_str!("npm-fetch.sh");
/// The npm cache, below the fetch output and the store entry's data.
const CACHE_DIR: &str = "npm";
/// The lockfiles npm reads, in the order it prefers them.
pub const LOCKFILES: [&str; 2] = ["npm-shrinkwrap.json", "package-lock.json"];

/// A digest algorithm of a Subresource Integrity string that repro verifies. `sha1` (what npm
/// wrote before npm 5) is not one: too weak to say what a file was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn parse(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha384" => Some(Algorithm::Sha384),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
        }
    }

    fn digest_file(self, path: &Path) -> Result<Vec<u8>, DepsError> {
        fn run<D: sha2::Digest>(path: &Path) -> Result<Vec<u8>, DepsError> {
            use std::io::Read as _;
            let mut file = fs::File::open(path)?;
            let mut hasher = D::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(hasher.finalize().to_vec());
                }
                hasher.update(buf.get(..n).unwrap_or_default());
            }
        }
        match self {
            Algorithm::Sha256 => run::<Sha256>(path),
            Algorithm::Sha384 => run::<Sha384>(path),
            Algorithm::Sha512 => run::<Sha512>(path),
        }
    }
}

/// The strongest digest of an `integrity` string that repro verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integrity {
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
}

impl Integrity {
    /// Parses a Subresource Integrity string (`sha512-BASE64`, several separated by spaces,
    /// options after `?` ignored). `None` when it holds no digest repro verifies.
    pub fn parse(text: &str) -> Option<Integrity> {
        text.split_ascii_whitespace()
            .filter_map(|token| {
                let (algorithm, rest) = token.split_once('-')?;
                let algorithm = Algorithm::parse(algorithm)?;
                let b64 = rest.split('?').next().unwrap_or_default();
                let digest = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                (digest.len() == algorithm.digest_len()).then_some(Integrity { algorithm, digest })
            })
            .max_by_key(|i| i.algorithm)
    }

    /// As npm writes it.
    pub fn to_sri(&self) -> String {
        format!(
            "{}-{}",
            self.algorithm.name(),
            base64::engine::general_purpose::STANDARD.encode(&self.digest)
        )
    }

    /// Where npm's cache (cacache) keeps the content with this digest.
    fn cache_path(&self, cache: &Path) -> PathBuf {
        let hex = hex::encode(&self.digest);
        let (a, rest) = hex.split_at(2);
        let (b, rest) = rest.split_at(2);
        cache
            .join("_cacache/content-v2")
            .join(self.algorithm.name())
            .join(a)
            .join(b)
            .join(rest)
    }
}

/// One package the lockfile pins to a registry tarball.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    /// Its key in `packages` (`node_modules/a/node_modules/@s/b`).
    pub path: String,
    pub name: String,
    pub version: String,
    pub integrity: Integrity,
    /// npm leaves out packages whose `os`/`cpu` do not match; an optional one may be absent.
    pub optional: bool,
}

/// A parsed lockfile: the packages to fetch, and those nothing can pin.
#[derive(Clone, Debug, Default)]
pub struct Lockfile {
    pub packages: Vec<LockedPackage>,
    pub unverifiable: Vec<Unverifiable>,
}

impl Lockfile {
    pub fn read(path: &Path) -> Result<Lockfile, DepsError> {
        Lockfile::parse(&read_text(path)?, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Lockfile, DepsError> {
        let bad = |reason: String| DepsError::Lockfile {
            path: path.to_owned(),
            reason,
        };
        let doc: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let version = doc.get("lockfileVersion").and_then(Value::as_u64);
        if !matches!(version, Some(2 | 3)) {
            return Err(bad(format!(
                "lockfileVersion {} is not supported (2 and 3 are)\nhint: `npm install \
                 --package-lock-only --lockfile-version 3` rewrites it; commit the result",
                version.map_or("missing".to_owned(), |v| v.to_string())
            )));
        }
        let Some(packages) = doc.get("packages").and_then(Value::as_object) else {
            return Err(bad("no `packages` object".to_owned()));
        };
        let mut lock = Lockfile::default();
        for (key, entry) in packages {
            // The root project, workspace folders (in the tree), links to them, and packages
            // that ship inside another package's tarball: nothing to fetch.
            let Some(at) = key.rfind("node_modules/") else {
                continue;
            };
            let flag = |name: &str| entry.get(name).and_then(Value::as_bool) == Some(true);
            if flag("link") || flag("inBundle") {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_else(|| key.get(at + "node_modules/".len()..).unwrap_or_default());
            if name.is_empty() {
                return Err(bad(format!("`{key}` names no package")));
            }
            let text = |field: &str| entry.get(field).and_then(Value::as_str);
            let version = text("version").unwrap_or("*").to_owned();
            let refuse = |source: String| Unverifiable {
                name: name.to_owned(),
                version: version.clone(),
                source,
            };
            if let Some(resolved) = text("resolved")
                && !(resolved.starts_with("https://") || resolved.starts_with("http://"))
            {
                lock.unverifiable
                    .push(refuse(format!("resolved from {resolved}")));
                continue;
            }
            let Some(integrity) = text("integrity") else {
                lock.unverifiable
                    .push(refuse("no integrity in the lockfile".to_owned()));
                continue;
            };
            let Some(integrity) = Integrity::parse(integrity) else {
                lock.unverifiable.push(refuse(format!(
                    "integrity {integrity} has no sha256/sha384/sha512 digest"
                )));
                continue;
            };
            lock.packages.push(LockedPackage {
                path: key.clone(),
                name: name.to_owned(),
                version,
                integrity,
                optional: flag("optional") || flag("devOptional"),
            });
        }
        Ok(lock)
    }
}

/// The lockfile of a project folder, by npm's preference.
fn lockfile_name(root: &Path) -> Option<&'static str> {
    LOCKFILES.into_iter().find(|name| root.join(name).is_file())
}

/// `None` when there is no `package.json`.
pub(super) fn provision(root: &Path) -> Result<Option<Provision>, DepsError> {
    if !root.join("package.json").is_file() {
        return Ok(None);
    }
    Ok(Some(match lockfile_name(root) {
        Some(name) => {
            let lock = Lockfile::read(&root.join(name))?;
            if lock.packages.is_empty() && lock.unverifiable.is_empty() {
                Provision::Nothing
            } else {
                Provision::Locked {
                    lockfile: name.to_owned(),
                }
            }
        }
        None if declares_dependencies(root)? => Provision::Unlocked,
        None => Provision::Nothing,
    }))
}

/// Whether `package.json` declares any dependency (of any kind) that a lockfile would pin. One
/// that does not parse counts as declaring: npm says better what is wrong with it, and only a
/// build that runs npm needs it.
fn declares_dependencies(root: &Path) -> Result<bool, DepsError> {
    let Ok(doc) = serde_json::from_str::<Value>(&read_text(&root.join("package.json"))?) else {
        return Ok(true);
    };
    Ok([
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
        "bundleDependencies",
        "bundledDependencies",
    ]
    .iter()
    .any(|field| match doc.get(field) {
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::Array(list)) => !list.is_empty(),
        Some(Value::Bool(b)) => *b,
        _ => false,
    }))
}

pub(super) fn key_inputs(root: &Path) -> Result<Vec<(String, Vec<u8>)>, DepsError> {
    let mut inputs = Vec::new();
    for name in ["package.json"].into_iter().chain(LOCKFILES) {
        if let Some(bytes) = read_optional(root, name)? {
            inputs.push((name.to_owned(), bytes));
        }
    }
    Ok(inputs)
}

pub(super) fn plan_fetch(root: &Path) -> Result<FetchPlan, DepsError> {
    let Some(name) = lockfile_name(root) else {
        return Err(DepsError::Missing {
            dependency: "package-lock.json".to_owned(),
            reason: "package.json declares dependencies but there is no lockfile to verify them \
                     against\nhint: run `npm install --package-lock-only` and commit package-lock.json"
                .to_owned(),
        });
    };
    let lock = Lockfile::read(&root.join(name))?;
    if !lock.unverifiable.is_empty() {
        return Err(DepsError::Unverifiable {
            ecosystem: Ecosystem::Npm,
            dependencies: lock.unverifiable,
        });
    }
    Ok(FetchPlan {
        ecosystem: Ecosystem::Npm,
        image: Ecosystem::Npm.builder_image(),
        inputs: Vec::new(),
        steps: vec![FetchStep {
            label: "npm ci --ignore-scripts",
            network: true,
            out_writable: true,
            argv: super::sh(FETCH_SCRIPT, &[]),
            env: BTreeMap::new(),
        }],
    })
}

/// Checks every tarball the lockfile pins against its `integrity`, recomputed here from the
/// cache's content (npm checked too; this does not take its word), and lists the packages (sha256
/// of their tarball). Other content in the cache (package metadata npm looked up) is kept but is
/// not a dependency: the builds install by the lockfile's integrity, which npm checks on read.
pub(super) fn verify_fetch(root: &Path, out: &Path) -> Result<Vec<Dependency>, DepsError> {
    let Some(name) = lockfile_name(root) else {
        return Err(DepsError::Missing {
            dependency: "package-lock.json".to_owned(),
            reason: "the lockfile disappeared during the fetch".to_owned(),
        });
    };
    let lock = Lockfile::read(&root.join(name))?;
    let cache = out.join(CACHE_DIR);
    let mut deps = Vec::new();
    for package in &lock.packages {
        let path = package.integrity.cache_path(&cache);
        if !path.is_file() {
            if package.optional {
                continue; // for another platform: npm ci leaves it out
            }
            return Err(DepsError::Missing {
                dependency: format!("npm {}@{}", package.name, package.version),
                reason: format!("the fetch did not bring it ({})", package.path),
            });
        }
        let actual = Integrity {
            algorithm: package.integrity.algorithm,
            digest: package.integrity.algorithm.digest_file(&path)?,
        };
        if actual != package.integrity {
            return Err(DepsError::DigestMismatch {
                dependency: format!("npm {}@{}", package.name, package.version),
                expected: package.integrity.to_sri(),
                actual: actual.to_sri(),
            });
        }
        deps.push(Dependency::new(
            Ecosystem::Npm,
            &package.name,
            &package.version,
            &sha256_file(&path)?,
        ));
    }
    Ok(deps)
}

/// Builds install from the store's npm cache only (the recipe adds `npm_config_offline`).
pub(super) fn build_setup() -> BuildSetup {
    BuildSetup::with_env([("npm_config_cache", format!("{STORE_MOUNT}/{CACHE_DIR}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    const SHA512: &str =
        "sha512-IqLyteuXkYDeOJDGWy7Oxer/rdm5dP6fv7u8HyUHEnxXpqjWHRj/Sc5pKxMA4gkyo2sfw1ZjUrIkKCNbfXoqTg==";

    fn lock(packages: &str) -> String {
        format!(
            r#"{{"name":"app","lockfileVersion":3,"requires":true,"packages":{{"":{{"name":"app"}}{packages}}}}}"#
        )
    }

    #[test]
    fn integrity_takes_the_strongest_digest_and_ignores_sha1_and_junk() {
        let sha1 = "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=";
        let i = Integrity::parse(&format!("{sha1} {SHA512}")).unwrap();
        assert_eq!(i.algorithm, Algorithm::Sha512);
        assert_eq!(i.to_sri(), SHA512);
        assert_eq!(Integrity::parse(sha1), None);
        for bad in ["", "sha512-", "sha512-!!!", "sha256-AAAA", "md5-AAAA", "nodash"] {
            assert_eq!(Integrity::parse(bad), None, "{bad}");
        }
        let with_option = format!("{SHA512}?foo");
        assert_eq!(Integrity::parse(&with_option).unwrap().to_sri(), SHA512);
    }

    #[test]
    fn lockfile_packages_names_and_what_is_refused() {
        let text = lock(&format!(
            r#","node_modules/greet":{{"version":"1.0.0","resolved":"https://r/greet-1.0.0.tgz","integrity":"{SHA512}"}},
            "node_modules/a/node_modules/@s/b":{{"version":"2.0.0","integrity":"{SHA512}","optional":true}},
            "node_modules/alias":{{"name":"real","version":"3.0.0","integrity":"{SHA512}"}},
            "node_modules/bundled":{{"version":"1.0.0","inBundle":true}},
            "node_modules/ws":{{"resolved":"packages/ws","link":true}},
            "packages/ws":{{"name":"ws","version":"0.0.1"}},
            "node_modules/g":{{"version":"1.0.0","resolved":"git+ssh://git@github.com/x/g.git#abc"}},
            "node_modules/f":{{"version":"1.0.0","resolved":"file:../f"}},
            "node_modules/old":{{"version":"1.0.0","integrity":"sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk="}},
            "node_modules/none":{{"version":"1.0.0"}}"#
        ));
        let lock = Lockfile::parse(&text, Path::new("package-lock.json")).unwrap();
        let names: Vec<(&str, bool)> = lock
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.optional))
            .collect();
        assert_eq!(names, [("@s/b", true), ("real", false), ("greet", false)]);
        let refused: Vec<&str> = lock.unverifiable.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(refused, ["f", "g", "none", "old"]);
    }

    #[test]
    fn malformed_lockfiles_are_errors_not_panics() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"lockfileVersion":1,"dependencies":{}}"#,
            r#"{"lockfileVersion":3}"#,
            r#"{"lockfileVersion":3,"packages":[]}"#,
            r#"{"lockfileVersion":"3","packages":{}}"#,
            r#"{"lockfileVersion":3,"packages":{"node_modules/":{"version":"1"}}}"#,
        ] {
            assert!(
                Lockfile::parse(bad, Path::new("package-lock.json")).is_err(),
                "{bad}"
            );
        }
        // Odd but harmless values are read, not trusted.
        let odd =
            r#"{"lockfileVersion":3,"packages":{"node_modules/x":{"version":7,"integrity":5,"link":"yes"}}}"#;
        let lock = Lockfile::parse(odd, Path::new("package-lock.json")).unwrap();
        assert_eq!(lock.unverifiable.len(), 1);
    }

    /// A fetch output with `content` in npm's cache under the digest `integrity` names.
    fn cached(out: &Path, integrity: &Integrity, content: &[u8]) {
        let path = integrity.cache_path(&out.join(CACHE_DIR));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn verification_recomputes_every_integrity() {
        let dir = tempfile::tempdir().unwrap();
        let (root, out) = (dir.path().join("p"), dir.path().join("out"));
        fs::create_dir_all(&root).unwrap();
        let tarball = b"a tarball".as_slice();
        let integrity = Integrity {
            algorithm: Algorithm::Sha512,
            digest: Sha512::digest(tarball).to_vec(),
        };
        let sri = integrity.to_sri();
        fs::write(
            root.join("package-lock.json"),
            lock(&format!(
                r#","node_modules/greet":{{"version":"1.0.0","integrity":"{sri}"}},
                "node_modules/other-os":{{"version":"1.0.0","integrity":"{SHA512}","optional":true}}"#
            )),
        )
        .unwrap();
        fs::write(root.join("package.json"), "{}").unwrap();
        assert!(matches!(
            verify_fetch(&root, &out),
            Err(DepsError::Missing { .. })
        ));
        cached(&out, &integrity, tarball);
        let deps = verify_fetch(&root, &out).unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps.first().unwrap().uri, "pkg:npm/greet@1.0.0");
        assert_eq!(
            deps.first().unwrap().digest.sha256,
            hex::encode(Sha256::digest(tarball))
        );
        // Content that is not what its name says is refused, naming both digests.
        cached(&out, &integrity, b"something else");
        match verify_fetch(&root, &out) {
            Err(DepsError::DigestMismatch { expected, .. }) => assert_eq!(expected, sri),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn provision_tells_locked_unlocked_and_empty_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(provision(root).unwrap(), None);
        fs::write(root.join("package.json"), r#"{"name":"x","dependencies":{}}"#).unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Nothing));
        fs::write(root.join("package.json"), r#"{"devDependencies":{"y":"1"}}"#).unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Unlocked));
        assert!(matches!(plan_fetch(root), Err(DepsError::Missing { .. })));
        fs::write(root.join("package-lock.json"), lock("")).unwrap();
        assert_eq!(provision(root).unwrap(), Some(Provision::Nothing));
        fs::write(
            root.join("package-lock.json"),
            lock(r#","node_modules/g":{"version":"1.0.0","resolved":"git+https://x/g.git"}"#),
        )
        .unwrap();
        assert!(matches!(provision(root).unwrap(), Some(Provision::Locked { .. })));
        assert!(matches!(plan_fetch(root), Err(DepsError::Unverifiable { .. })));
    }
}
