//! The dependency phase: which package ecosystems a project uses, what their lockfiles declare,
//! the fetch runs that download them in the builder image (the only networked step of a check),
//! the verification of what came back, and the content-addressed store every build then mounts
//! read-only with the network off.
//!
//! The flow an orchestrator drives, for each [`Detected`] ecosystem that is not vendored:
//!
//! 1. [`Store::lookup`](store::Store::lookup) with the [`StoreKey`](store::StoreKey) from
//!    [`key_inputs`]: a hit skips 2–4 and starts no container.
//! 2. [`plan_fetch`]: the [`FetchPlan`] — image, input files, and the steps to run (each with its
//!    network setting and mounts, see [`FetchStep::mounts`]).
//! 3. [`verify_fetch`]: on the host, every downloaded file checked against the lockfile's digest,
//!    giving the [`Dependency`] list.
//! 4. [`Store::insert`](store::Store::insert): the output folder renamed into the store.
//! 5. [`build_setup`]: the environment, extra arguments and read-only mount each build gets.
//!
//! A rebuild passes the recorded dependencies ([`Recorded`]) to [`plan_fetch`], and
//! [`check_recorded`] refuses any digest that differs.

pub mod cargo;
pub mod go;
pub mod npm;
pub mod purl;
pub mod python;
pub mod store;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use fs_err as fs;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Where the project's source is mounted, read-only, in every fetch step.
pub const SOURCE_MOUNT: &str = "/src";
/// The fetch work area: `in/` (files repro wrote, read-only), `state/` (scratch shared between
/// steps) and `out/` (what goes into the store).
pub const FETCH_MOUNT: &str = "/fetch";
/// Where a build finds the dependency store entry, read-only.
pub const STORE_MOUNT: &str = "/deps";
/// The host's CA bundle, mounted at the same path in networked fetch steps: the registries may
/// sit behind a TLS-intercepting proxy.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Lockfiles and manifests are read whole; none of the real ones comes near this.
pub const MAX_LOCKFILE_BYTES: u64 = 32 << 20;

/// The package ecosystems repro fetches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Cargo,
    Python,
    Go,
    Npm,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [Ecosystem::Cargo, Ecosystem::Python, Ecosystem::Go, Ecosystem::Npm];

    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Python => "python",
            Ecosystem::Go => "go",
            Ecosystem::Npm => "npm",
        }
    }

    /// The purl type of its packages.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Python => "pypi",
            Ecosystem::Go => "golang",
            Ecosystem::Npm => "npm",
        }
    }

    /// The builder image (by recipe name in `scripts/images/`) whose tools fetch for it: the same
    /// image the matching build recipe uses, so the fetch resolves for the build's toolchain.
    pub fn builder_image(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "rust",
            Ecosystem::Go => "go",
            Ecosystem::Npm => "node",
            Ecosystem::Python => "default",
        }
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One fetched package: what the report's `dependencies` array and SLSA `resolvedDependencies`
/// list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    /// The package name as its registry spells it.
    pub name: String,
    pub version: String,
    /// A purl: `pkg:cargo/itoa@1.0.11`, `pkg:pypi/hatchling@1.25.0`.
    pub uri: String,
    pub digest: DigestSet,
}

/// The digests of one dependency's file (the `.crate`, the wheel, the module zip).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DigestSet {
    /// Lowercase hex.
    pub sha256: String,
}

impl Dependency {
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str, sha256: &str) -> Dependency {
        Dependency {
            ecosystem,
            name: name.to_owned(),
            version: version.to_owned(),
            uri: purl::purl(ecosystem, name, version),
            digest: DigestSet {
                sha256: sha256.to_ascii_lowercase(),
            },
        }
    }

    /// `name@version`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}@{}", self.ecosystem, self.name, self.version)
    }
}

/// How an ecosystem's dependencies reach the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provision {
    /// They are in the tree already (`vendor/` and source replacement): nothing is fetched.
    Vendored { evidence: String },
    /// A lockfile (path relative to the project) says what to fetch.
    Locked { lockfile: String },
    /// No lockfile: the fetch phase resolves, and what it resolved is recorded.
    Unlocked,
    /// Nothing is declared (a `go.mod` without `require`): nothing to fetch.
    Nothing,
}

/// One ecosystem found in a project folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    pub ecosystem: Ecosystem,
    pub provision: Provision,
}

impl Detected {
    /// Whether the fetch phase has work for it.
    pub fn needs_fetch(&self) -> bool {
        matches!(self.provision, Provision::Locked { .. } | Provision::Unlocked)
    }
}

/// The files at a project's root by which [`detect`] finds an ecosystem.
pub const MARKERS: [&str; 5] = [
    "Cargo.toml",
    "pyproject.toml",
    "setup.py",
    "go.mod",
    "package.json",
];

/// The ecosystems a project folder uses, in [`Ecosystem::ALL`] order.
pub fn detect(root: &Path) -> Result<Vec<Detected>, DepsError> {
    let mut found = Vec::new();
    for ecosystem in Ecosystem::ALL {
        let provision = match ecosystem {
            Ecosystem::Cargo => cargo::provision(root)?,
            Ecosystem::Python => python::provision(root)?,
            Ecosystem::Go => go::provision(root)?,
            Ecosystem::Npm => npm::provision(root)?,
        };
        if let Some(provision) = provision {
            found.push(Detected { ecosystem, provision });
        }
    }
    Ok(found)
}

/// What a rebuild brings from the provenance: the dependencies to fetch again, and the lockfile
/// the original fetch generated (when the project had none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub dependencies: Vec<Dependency>,
    pub lockfile: Option<Vec<u8>>,
}

/// A folder shared into a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
}

/// One container run of the fetch phase. It runs as an unprivileged user in the builder image,
/// with the source at [`SOURCE_MOUNT`] and the work area at [`FETCH_MOUNT`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchStep {
    /// What it does, for progress and errors: `cargo vendor`, `build-system requires`, ….
    pub label: &'static str,
    /// Only steps that run no project code have the network.
    pub network: bool,
    /// `out/` is writable only in networked steps: project code (an offline step) must not be
    /// able to plant files that would be recorded as downloaded.
    pub out_writable: bool,
    pub argv: Vec<String>,
    /// Added to [`network_env`] in networked steps.
    pub env: BTreeMap<String, String>,
}

impl FetchStep {
    /// The mounts of this step, given the host folder of the work area (see [`FETCH_MOUNT`]) and
    /// the project's source folder.
    pub fn mounts(&self, source: &Path, work: &Path) -> Vec<Mount> {
        let mount = |host: PathBuf, container: String, read_only| Mount {
            host,
            container,
            read_only,
        };
        let mut mounts = vec![
            mount(source.to_owned(), SOURCE_MOUNT.to_owned(), true),
            mount(work.join("in"), format!("{FETCH_MOUNT}/in"), true),
            mount(work.join("state"), format!("{FETCH_MOUNT}/state"), false),
            mount(work.join("out"), format!("{FETCH_MOUNT}/out"), !self.out_writable),
        ];
        if self.network {
            mounts.push(mount(CA_BUNDLE.into(), CA_BUNDLE.to_owned(), true));
        }
        mounts
    }
}

/// Everything the fetch phase of one ecosystem runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPlan {
    pub ecosystem: Ecosystem,
    /// The builder image recipe name ([`Ecosystem::builder_image`]).
    pub image: &'static str,
    /// Files to write into the work area's `in/` before the first step (name, content).
    pub inputs: Vec<(String, Vec<u8>)>,
    pub steps: Vec<FetchStep>,
}

impl FetchPlan {
    /// Creates `in/` (with [`FetchPlan::inputs`]), `state/` and `out/` under `work`, writable by
    /// the unprivileged container user.
    pub fn prepare(&self, work: &Path) -> Result<(), DepsError> {
        for sub in ["in", "state", "out"] {
            let dir = work.join(sub);
            fs::create_dir_all(&dir)?;
            // The container user is not the host user: the areas it writes are world-writable
            // (inside a private temporary folder of the store).
            set_mode(&dir, if sub == "in" { 0o755 } else { 0o777 })?;
        }
        for (name, bytes) in &self.inputs {
            let path = work.join("in").join(name);
            fs::write(&path, bytes)?;
            set_mode(&path, 0o644)?;
        }
        set_mode(work, 0o755)
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DepsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The environment of a networked fetch step: where the CA bundle is, for every tool that reads
/// one, and the user's proxy settings (passed to the fetch phase only, never to a build).
pub fn network_env(host_var: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in [
        "SSL_CERT_FILE",
        "PIP_CERT",
        "REQUESTS_CA_BUNDLE",
        "CARGO_HTTP_CAINFO",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
    ] {
        env.insert(var.to_owned(), CA_BUNDLE.to_owned());
    }
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "GOPROXY",
        "GONOSUMDB",
        "GONOSUMCHECK",
        "GOPRIVATE",
        "GOSUMDB",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "npm_config_registry",
        "NPM_CONFIG_REGISTRY",
    ] {
        if let Some(value) = host_var(var).filter(|v| !v.is_empty()) {
            env.insert(var.to_owned(), value);
        }
    }
    env
}

/// What every build (and every isolation probe) gets from a store entry: the entry's data folder
/// mounted read-only at [`STORE_MOUNT`], plus these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildSetup {
    pub env: BTreeMap<String, String>,
    /// Appended to the build command (cargo's `--config /deps/cargo-config.toml`).
    pub args: Vec<String>,
    /// Files copied from the store entry into the build folder before the command (store path,
    /// build path), e.g. the `Cargo.lock` the fetch phase generated.
    pub place: Vec<(String, String)>,
}

impl BuildSetup {
    /// A setup that is environment variables only.
    pub fn with_env(env: impl IntoIterator<Item = (&'static str, String)>) -> BuildSetup {
        BuildSetup {
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ..BuildSetup::default()
        }
    }
}

/// The inputs that determine what a fetch downloads: the lockfile, or the manifests it is
/// resolved from. Part of the store key.
pub fn key_inputs(
    root: &Path,
    detected: &Detected,
    recorded: Option<&Recorded>,
) -> Result<Vec<(String, Vec<u8>)>, DepsError> {
    let mut inputs = match detected.ecosystem {
        Ecosystem::Cargo => cargo::key_inputs(root)?,
        Ecosystem::Python => python::key_inputs(root)?,
        Ecosystem::Go => go::key_inputs(root)?,
        Ecosystem::Npm => npm::key_inputs(root)?,
    };
    if let Some(recorded) = recorded {
        let json = serde_json::to_vec(&recorded.dependencies).map_err(std::io::Error::other)?;
        inputs.push(("recorded-dependencies".to_owned(), json));
        if let Some(lock) = &recorded.lockfile {
            inputs.push(("recorded-lockfile".to_owned(), lock.clone()));
        }
    }
    Ok(inputs)
}

/// The fetch runs for one detected ecosystem. `recorded` (a rebuild) fetches exactly those
/// dependencies instead of resolving.
pub fn plan_fetch(
    root: &Path,
    detected: &Detected,
    recorded: Option<&Recorded>,
) -> Result<FetchPlan, DepsError> {
    match detected.ecosystem {
        Ecosystem::Cargo => cargo::plan_fetch(root, recorded),
        Ecosystem::Python => python::plan_fetch(root, recorded),
        Ecosystem::Go => go::plan_fetch(root),
        Ecosystem::Npm => npm::plan_fetch(root),
    }
}

/// Checks what the fetch put in `out` against the lockfile (and, for a rebuild, the recorded
/// list), and lists the dependencies.
pub fn verify_fetch(
    root: &Path,
    ecosystem: Ecosystem,
    out: &Path,
    recorded: Option<&Recorded>,
) -> Result<Vec<Dependency>, DepsError> {
    let mut deps = match ecosystem {
        Ecosystem::Cargo => cargo::verify_fetch(root, out)?,
        Ecosystem::Python => python::verify_fetch(root, out)?,
        Ecosystem::Go => go::verify_fetch(root, out)?,
        Ecosystem::Npm => npm::verify_fetch(root, out)?,
    };
    deps.sort();
    deps.dedup();
    if let Some(recorded) = recorded {
        check_recorded(ecosystem, &recorded.dependencies, &deps)?;
    }
    Ok(deps)
}

/// What the builds get from the store entry of this ecosystem.
pub fn build_setup(root: &Path, ecosystem: Ecosystem) -> BuildSetup {
    match ecosystem {
        Ecosystem::Cargo => cargo::build_setup(root),
        Ecosystem::Python => python::build_setup(),
        Ecosystem::Go => go::build_setup(),
        Ecosystem::Npm => npm::build_setup(),
    }
}

/// A rebuild's check: every recorded dependency of this ecosystem was fetched with the recorded
/// digest. Names the first one that differs or is missing.
pub fn check_recorded(
    ecosystem: Ecosystem,
    recorded: &[Dependency],
    fetched: &[Dependency],
) -> Result<(), DepsError> {
    for want in recorded.iter().filter(|d| d.ecosystem == ecosystem) {
        let same_package = |got: &&Dependency| got.name == want.name && got.version == want.version;
        let candidates: Vec<&Dependency> = fetched.iter().filter(same_package).collect();
        if candidates
            .iter()
            .any(|got| got.digest.sha256 == want.digest.sha256)
        {
            continue;
        }
        return Err(match candidates.first() {
            Some(got) => DepsError::DigestMismatch {
                dependency: want.label(),
                expected: want.digest.sha256.clone(),
                actual: got.digest.sha256.clone(),
            },
            None => DepsError::Missing {
                dependency: want.label(),
                reason: "recorded, but not fetched".to_owned(),
            },
        });
    }
    Ok(())
}

/// A dependency repro cannot verify by digest (git, a path outside the tree, another registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverifiable {
    pub name: String,
    pub version: String,
    /// Where it comes from, as the lockfile says.
    pub source: String,
}

impl std::fmt::Display for Unverifiable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.name, self.version, self.source)
    }
}

fn list(items: &[Unverifiable]) -> String {
    items.iter().map(|u| format!("\n  {u}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}: {reason}")]
    Lockfile { path: PathBuf, reason: String },
    #[error(
        "{ecosystem}: these dependencies have no checksum repro can verify:{}\nhint: vendor them \
         (see docs/dependencies.md), or build with --network",
        list(.dependencies)
    )]
    Unverifiable {
        ecosystem: Ecosystem,
        dependencies: Vec<Unverifiable>,
    },
    #[error("{dependency}: expected sha256 {expected}, fetched {actual}")]
    DigestMismatch {
        dependency: String,
        expected: String,
        actual: String,
    },
    #[error("{dependency}: {reason}")]
    Missing { dependency: String, reason: String },
    #[error("{ecosystem}: {reason}")]
    Unsupported { ecosystem: Ecosystem, reason: String },
    #[error("dependency store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
}

/// Reads a lockfile or manifest whole, refusing one larger than [`MAX_LOCKFILE_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, DepsError> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_LOCKFILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LOCKFILE_BYTES {
        return Err(DepsError::Lockfile {
            path: path.to_owned(),
            reason: format!("larger than {} MiB", MAX_LOCKFILE_BYTES >> 20),
        });
    }
    Ok(bytes)
}

/// [`read_bounded`], as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String, DepsError> {
    String::from_utf8(read_bounded(path)?).map_err(|_| DepsError::Lockfile {
        path: path.to_owned(),
        reason: "not UTF-8 text".to_owned(),
    })
}

/// Reads `name` under `root` if it is a file: `Ok(None)` when it does not exist.
pub(crate) fn read_optional(root: &Path, name: &str) -> Result<Option<Vec<u8>>, DepsError> {
    let path = root.join(name);
    if path.is_file() {
        read_bounded(&path).map(Some)
    } else {
        Ok(None)
    }
}

/// Whether `s` is a sha256 in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// sha256 of a byte string, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of a file's content, streamed, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, DepsError> {
    let (digest, _) = sha256_reader(fs::File::open(path)?)?;
    Ok(hex::encode(digest))
}

/// sha256 of everything `reader` gives, and how many bytes that was.
pub(crate) fn sha256_reader(mut reader: impl Read) -> Result<([u8; 32], u64), DepsError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    Ok((hasher.finalize().into(), total))
}

/// The command of a step that runs one of our shell scripts: `sh -c SCRIPT repro-fetch ARGS…`.
fn sh(script: &str, args: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "repro-fetch".to_owned(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_json_has_the_shape_the_report_uses() {
        let dep = Dependency::new(Ecosystem::Cargo, "itoa", "1.0.11", "ABCDEF");
        let json = serde_json::to_value(&dep).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ecosystem": "cargo",
                "name": "itoa",
                "version": "1.0.11",
                "uri": "pkg:cargo/itoa@1.0.11",
                "digest": {"sha256": "abcdef"},
            })
        );
        let back: Dependency = serde_json::from_value(json).unwrap();
        assert_eq!(back, dep);
    }

    #[test]
    fn rebuild_refuses_a_changed_digest_and_names_the_dependency() {
        let good = Dependency::new(Ecosystem::Cargo, "itoa", "1.0.11", &"a".repeat(64));
        let mut changed = good.clone();
        changed.digest.sha256 = "b".repeat(64);
        assert!(
            check_recorded(
                Ecosystem::Cargo,
                std::slice::from_ref(&good),
                std::slice::from_ref(&good)
            )
            .is_ok()
        );
        let err = check_recorded(Ecosystem::Cargo, &[changed], std::slice::from_ref(&good)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("itoa@1.0.11") && text.contains(&"a".repeat(64)) && text.contains(&"b".repeat(64)),
            "{text}"
        );
        let other = Dependency::new(Ecosystem::Cargo, "memchr", "2.0.0", &"c".repeat(64));
        let err = check_recorded(Ecosystem::Cargo, &[other], std::slice::from_ref(&good)).unwrap_err();
        assert!(matches!(err, DepsError::Missing { .. }), "{err}");
        // Another ecosystem's entries are not this one's business.
        let go = Dependency::new(Ecosystem::Go, "x.org/y", "v1.0.0", &"d".repeat(64));
        assert!(check_recorded(Ecosystem::Cargo, &[go], &[good]).is_ok());
    }

    #[test]
    fn network_env_passes_proxies_and_the_ca_bundle_only() {
        let env = network_env(|name| match name {
            "HTTPS_PROXY" => Some("http://proxy:3128".to_owned()),
            "NO_PROXY" => Some(String::new()),
            "HOME" => Some("/root".to_owned()),
            _ => None,
        });
        assert_eq!(
            env.get("HTTPS_PROXY").map(String::as_str),
            Some("http://proxy:3128")
        );
        assert_eq!(env.get("SSL_CERT_FILE").map(String::as_str), Some(CA_BUNDLE));
        assert!(!env.contains_key("NO_PROXY") && !env.contains_key("HOME"));
    }

    #[test]
    fn offline_steps_see_out_read_only_and_no_ca_bundle() {
        let step = FetchStep {
            label: "hooks",
            network: false,
            out_writable: false,
            argv: vec![],
            env: BTreeMap::new(),
        };
        let mounts = step.mounts(Path::new("/s"), Path::new("/w"));
        let out = mounts.iter().find(|m| m.container == "/fetch/out").unwrap();
        assert!(out.read_only);
        assert!(mounts.iter().all(|m| m.host != Path::new(CA_BUNDLE)));
        assert!(mounts.iter().any(|m| m.container == SOURCE_MOUNT && m.read_only));
    }

    #[test]
    fn detects_each_ecosystem_and_its_provision() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(detect(root).unwrap(), vec![]);
        fs::write(root.join("package.json"), "{}").unwrap();
        fs::write(
            root.join("package-lock.json"),
            r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/x":{"version":"1.0.0"}}}"#,
        )
        .unwrap();
        assert_eq!(
            detect(root).unwrap(),
            vec![Detected {
                ecosystem: Ecosystem::Npm,
                provision: Provision::Locked {
                    lockfile: "package-lock.json".to_owned()
                }
            }]
        );
    }

    #[test]
    fn bounded_reads_refuse_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Cargo.lock");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_LOCKFILE_BYTES + 1).unwrap();
        assert!(matches!(read_bounded(&path), Err(DepsError::Lockfile { .. })));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&path), Err(DepsError::Lockfile { .. })));
    }
}
