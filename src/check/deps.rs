//! The dependency step of a check, between the image and the first build: for each ecosystem the
//! project uses that is not vendored, the dependency-store entry its lockfile names — found in
//! the store (no container starts), or fetched through the backend in the build's own image
//! with the network on (the only networked step of a check), verified on the host and stored.
//! Every build then gets the entries read-only under [`deps::STORE_MOUNT`], and the environment
//! and arguments that point its package manager there.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{CheckError, CheckOptions, Target};
use crate::deps::store::{Entry, Store, StoreKey};
use crate::deps::{self, Dependency, DepsError, Detected, Ecosystem, FetchStep, Provision, Recorded};
use crate::plan::{FileOrder, RunExtras, RunSpec, STANDARD_PATH, ToolArgs, UserSpec};
use crate::runner::{Backend, ImageInfo, LogLines, Mount, Progress, RunRequest};

/// How one ecosystem's dependencies reached the builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepsSource {
    /// Fetched by this check (network on, in the builder image).
    Fetched,
    /// Found in the store: fetched before for the same lockfile and image.
    Store,
    /// In the tree already (vendor/ and source replacement).
    Vendored,
    /// Nothing to fetch (no dependency is declared).
    Nothing,
    /// Not fetched: the build had the network (`--network`) and fetched for itself, unrecorded.
    Network,
    /// Not fetched: found in the tree, but the build does not run this ecosystem's tools (a
    /// `package-lock.json` beside a build whose image has no npm).
    Unused,
}

/// One ecosystem of the dependency step, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EcosystemDeps {
    pub ecosystem: Ecosystem,
    pub source: DepsSource,
    /// What decided it: the lockfile, the vendoring evidence, why nothing was fetched.
    pub detail: String,
    /// sha256 of the store entry's manifest (absent when nothing came from the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_digest: Option<String>,
    /// How many dependencies the entry holds.
    pub count: usize,
    /// The lockfile the fetch generated (the project has none): recorded, so a rebuild uses
    /// exactly it rather than resolving again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_lockfile: Option<GeneratedLockfile>,
}

/// A lockfile repro resolved for a project that ships none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedLockfile {
    /// Where the build finds it, relative to the project (`Cargo.lock`).
    pub path: String,
    pub sha256: String,
    pub content: String,
}

/// What the dependency step did.
#[derive(Debug, Clone, Serialize)]
pub struct DependencyPhase {
    /// The store folder.
    pub store: String,
    pub ecosystems: Vec<EcosystemDeps>,
    /// Time spent in the step (lookups, fetches, verification).
    pub elapsed_ms: u64,
}

impl DependencyPhase {
    /// How many dependencies came out of the store without a fetch.
    pub fn from_store(&self) -> usize {
        self.ecosystems
            .iter()
            .filter(|e| e.source == DepsSource::Store)
            .map(|e| e.count)
            .sum()
    }

    /// How many dependencies this check fetched.
    pub fn fetched(&self) -> usize {
        self.ecosystems
            .iter()
            .filter(|e| e.source == DepsSource::Fetched)
            .map(|e| e.count)
            .sum()
    }
}

/// The step's result: the report's part, and what every build gets.
pub(super) struct Provided {
    pub phase: DependencyPhase,
    pub dependencies: Vec<Dependency>,
    pub extras: RunExtras,
    pub mounts: Vec<Mount>,
    pub notes: Vec<String>,
}

/// Where the fetch runs as the backend needs them: which engine image, the check's id, logs.
pub(super) struct FetchContext<'a> {
    pub backend: &'a Arc<dyn Backend>,
    pub image: &'a ImageInfo,
    pub check_id: &'a str,
    /// The check's scratch folder (fetch runs' logs and archives).
    pub work: &'a Path,
    pub log_lines: Option<LogLines>,
    pub progress: Arc<dyn Progress>,
}

/// The store a check uses: `--deps-store DIR`, else `deps/` in repro's cache folder.
pub fn store_for(opts: &CheckOptions) -> Result<Store, CheckError> {
    match &opts.deps_store {
        Some(dir) => Ok(Store::at(dir)),
        None => {
            let cache = crate::image::Cache::from_env().map_err(|e| CheckError::Io {
                context: "finding repro's cache folder for the dependency store".into(),
                source: std::io::Error::other(e),
            })?;
            Ok(Store::in_cache(cache.root()))
        }
    }
}

/// The dependency step for `target` (see the module's documentation). `root` is the source as
/// the builds get it (the snapshot, written out — see `super::prepare`), so that what is
/// detected, fetched and recorded is what is built: a lockfile the project's git ignores is not
/// in the snapshot, and the fetch then resolves one and records it instead.
pub(super) async fn provide(
    opts: &CheckOptions,
    target: &Target,
    root: &Path,
    cx: FetchContext<'_>,
) -> Result<Provided, CheckError> {
    let started = Instant::now();
    let detected = deps::detect(root)?;
    let recorded = target.recorded_dependencies.as_ref();
    let mut provided = Provided {
        phase: DependencyPhase {
            store: String::new(),
            ecosystems: Vec::new(),
            elapsed_ms: 0,
        },
        dependencies: Vec::new(),
        extras: RunExtras::default(),
        mounts: Vec::new(),
        notes: Vec::new(),
    };
    if detected.is_empty() {
        if let Some(recorded) = recorded.and_then(|r| r.dependencies.first()) {
            return Err(DepsError::Missing {
                dependency: recorded.label(),
                reason: "recorded in the provenance, but this source uses no package ecosystem".into(),
            }
            .into());
        }
        return Ok(provided);
    }
    let store = store_for(opts)?;
    provided.phase.store = store.root().display().to_string();
    if target.build.network {
        network_build(&mut provided, &detected);
        provided.phase.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(provided);
    }
    let mut fetch_runs = 0usize;
    for d in &detected {
        let (source, detail, entry) = match &d.provision {
            Provision::Vendored { evidence } => (DepsSource::Vendored, evidence.clone(), None),
            Provision::Nothing => (DepsSource::Nothing, "no dependency is declared".into(), None),
            // npm is the one ecosystem whose files often sit beside a build of another kind
            // (front-end tooling of a Python or Rust project): its packages are fetched for
            // builds in its image only, as those are the builds that can install them.
            _ if d.ecosystem == Ecosystem::Npm
                && !records(recorded, d.ecosystem)
                && !uses_image(&target.build.image, d.ecosystem) =>
            {
                let why = format!(
                    "npm packages are fetched for builds in the `{}` image only",
                    d.ecosystem.builder_image()
                );
                provided
                    .notes
                    .push(format!("npm: package.json found, not fetched: {why}"));
                (DepsSource::Unused, why, None)
            }
            _ if !records(recorded, d.ecosystem) && nothing_to_fetch(root, d)? => (
                DepsSource::Nothing,
                "the lockfile names no registry package".into(),
                None,
            ),
            provision => {
                let key = StoreKey::new(
                    d.ecosystem,
                    &cx.image.image_id,
                    &deps::key_inputs(root, d, recorded)?,
                );
                let detail = match provision {
                    Provision::Locked { lockfile } => lockfile.clone(),
                    _ => "no lockfile: resolved by the fetch".into(),
                };
                match store.lookup(&key)? {
                    Some(entry) => (DepsSource::Store, detail, Some(entry)),
                    None => {
                        fetch_runs += 1;
                        let entry = fetch(&store, &key, root, d, recorded, &cx, fetch_runs).await?;
                        (DepsSource::Fetched, detail, Some(entry))
                    }
                }
            }
        };
        let mut item = EcosystemDeps {
            ecosystem: d.ecosystem,
            source,
            detail,
            store_digest: None,
            count: 0,
            generated_lockfile: None,
        };
        if let Some(entry) = entry {
            if let Some(recorded) = recorded {
                deps::check_recorded(d.ecosystem, &recorded.dependencies, &entry.manifest.dependencies)?;
            }
            item.store_digest = Some(entry.digest.clone());
            item.count = entry.manifest.dependencies.len();
            if let (Some(path), Some(bytes)) = (&entry.manifest.lockfile, entry.lockfile()?) {
                let content = String::from_utf8_lossy(&bytes).into_owned();
                provided.notes.push(format!(
                    "{}: the project has no {path}; repro resolved one in the fetch phase and built with \
                     it (recorded: a rebuild uses exactly this lockfile)",
                    d.ecosystem
                ));
                item.generated_lockfile = Some(GeneratedLockfile {
                    path: path.clone(),
                    sha256: deps::sha256_hex(&bytes),
                    content,
                });
            }
            provided
                .dependencies
                .extend(entry.manifest.dependencies.iter().cloned());
            give_to_builds(&mut provided, root, d.ecosystem, &entry)?;
        }
        provided.phase.ecosystems.push(item);
    }
    if let Some(recorded) = recorded {
        // Every recorded dependency belongs to an ecosystem this source still uses.
        for want in &recorded.dependencies {
            if !provided.dependencies.iter().any(|got| got.uri == want.uri) {
                return Err(DepsError::Missing {
                    dependency: want.label(),
                    reason: "recorded in the provenance, but this source does not declare it".into(),
                }
                .into());
            }
        }
    }
    provided.dependencies.sort();
    provided.dependencies.dedup();
    provided.phase.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(provided)
}

/// `--network`: nothing is fetched ahead; the builds reach the registries themselves and get
/// the host's CA bundle for that (registries may sit behind a TLS-intercepting proxy).
fn network_build(provided: &mut Provided, detected: &[Detected]) {
    for d in detected {
        provided.phase.ecosystems.push(EcosystemDeps {
            ecosystem: d.ecosystem,
            source: DepsSource::Network,
            detail: "the build fetched its own dependencies (--network): unrecorded".into(),
            store_digest: None,
            count: 0,
            generated_lockfile: None,
        });
    }
    if detected.iter().any(Detected::needs_fetch) {
        provided.notes.push(
            "the network was allowed: dependencies were not fetched ahead, verified or recorded; the \
             build downloaded what it needed"
                .into(),
        );
    }
    if Path::new(deps::CA_BUNDLE).is_file() {
        provided.mounts.push(Mount {
            host: deps::CA_BUNDLE.into(),
            target: deps::CA_BUNDLE.into(),
            read_only: true,
        });
        let ca = deps::network_env(|_| None);
        provided.extras.env.extend(ca);
    }
}

/// Whether a rebuild's record names dependencies of this ecosystem.
fn records(recorded: Option<&Recorded>, ecosystem: Ecosystem) -> bool {
    recorded.is_some_and(|r| r.dependencies.iter().any(|d| d.ecosystem == ecosystem))
}

/// A cargo lockfile without a single registry package: nothing to fetch, no container to start.
/// Whether a build in `image` (one of repro's builder images by name, or its `repro/NAME:TAG`)
/// is in `ecosystem`'s builder image.
fn uses_image(image: &str, ecosystem: Ecosystem) -> bool {
    let name = ecosystem.builder_image();
    image == name || image.starts_with(&format!("repro/{name}:"))
}

fn nothing_to_fetch(root: &Path, d: &Detected) -> Result<bool, DepsError> {
    if d.ecosystem != Ecosystem::Cargo {
        return Ok(false);
    }
    let Provision::Locked { lockfile } = &d.provision else {
        return Ok(false);
    };
    let lock = deps::cargo::Lockfile::read(&root.join(lockfile))?;
    Ok(lock.packages.iter().all(|p| p.source.is_none()) && deps::cargo::outside_paths(root)?.is_empty())
}

/// The entry's top-level folders and files, each mounted read-only under `/deps`, and the
/// ecosystem's build setup as run extras.
fn give_to_builds(
    provided: &mut Provided,
    root: &Path,
    ecosystem: Ecosystem,
    entry: &Entry,
) -> Result<(), CheckError> {
    let data = entry.data();
    let list = std::fs::read_dir(&data).map_err(CheckError::io(format!("reading {}", data.display())))?;
    let mut names: Vec<String> = Vec::new();
    for item in list {
        let item = item.map_err(CheckError::io(format!("reading {}", data.display())))?;
        if let Some(name) = item.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    for name in names {
        let target = format!("{}/{name}", deps::STORE_MOUNT);
        if provided.mounts.iter().any(|m| m.target == target) {
            return Err(DepsError::Store {
                path: data.join(&name),
                reason: format!("two ecosystems both provide {target}"),
            }
            .into());
        }
        provided.mounts.push(Mount {
            host: data.join(&name),
            target,
            read_only: true,
        });
    }
    let setup = deps::build_setup(root, ecosystem);
    provided.extras.env.extend(setup.env);
    if !setup.args.is_empty() {
        provided.extras.args.push(ToolArgs {
            tool: ecosystem.name().to_string(),
            args: setup.args,
        });
    }
    for (from, to) in setup.place {
        provided
            .extras
            .place
            .push((format!("{}/{from}", deps::STORE_MOUNT), to));
    }
    Ok(())
}

/// Fetches one ecosystem through the backend, verifies the result on the host, and stores it.
async fn fetch(
    store: &Store,
    key: &StoreKey,
    root: &Path,
    detected: &Detected,
    recorded: Option<&Recorded>,
    cx: &FetchContext<'_>,
    n: usize,
) -> Result<Entry, CheckError> {
    let ecosystem = detected.ecosystem;
    if !cx.backend.isolated() {
        return Err(CheckError::FetchUnavailable {
            ecosystem,
            backend: cx.backend.name(),
        });
    }
    let plan = deps::plan_fetch(root, detected, recorded)?;
    let area = store.work_area()?;
    plan.prepare(area.path())?;
    for (i, step) in plan.steps.iter().enumerate() {
        cx.progress.message(&format!(
            "dependencies: {ecosystem}: {}{}",
            step.label,
            if step.network {
                " (network on)"
            } else {
                " (network off)"
            }
        ));
        let label = format!("fetch-{}-{n}-{}", ecosystem.name(), i + 1);
        let run_dir = cx.work.join(&label);
        std::fs::create_dir_all(&run_dir)
            .map_err(CheckError::io(format!("creating {}", run_dir.display())))?;
        let source_tar = run_dir.join("source.tar");
        empty_tar(&source_tar)?;
        let request = RunRequest {
            spec: fetch_spec(&label, step),
            image: cx.image.image_id.clone(),
            source_tar,
            output_globs: Vec::new(),
            mounts: step_mounts(step, root, area.path()),
            check_id: cx.check_id.to_string(),
            work: run_dir,
            log_lines: cx.log_lines.clone(),
            labels: Default::default(),
        };
        let result = cx.backend.run(request).await?;
        if !result.succeeded() {
            return Err(CheckError::FetchFailed {
                ecosystem,
                step: step.label.to_string(),
                code: result.exit_code,
                timed_out: result.timed_out,
                tail: result.log_tail.join("\n"),
            });
        }
    }
    let out = area.path().join("out");
    let dependencies = deps::verify_fetch(root, ecosystem, &out, recorded)?;
    let lockfile = generated_lockfile(root, ecosystem, &out);
    let entry = store.insert(
        key,
        &out,
        ecosystem,
        &cx.image.image_id,
        lockfile.as_deref(),
        dependencies,
    )?;
    Ok(entry)
}

/// The lockfile the fetch wrote that the project lacks (it is then recorded).
fn generated_lockfile(root: &Path, ecosystem: Ecosystem, out: &Path) -> Option<String> {
    (ecosystem == Ecosystem::Cargo && !root.join("Cargo.lock").is_file() && out.join("Cargo.lock").is_file())
        .then(|| "Cargo.lock".to_string())
}

/// The run of one fetch step: its command in the build's image, as an unprivileged user (the
/// host's user where that is not root, so the host can remove what it wrote), with the network
/// only when the step says so.
fn fetch_spec(label: &str, step: &FetchStep) -> RunSpec {
    let (uid, gid) = fetch_user();
    let home = "/home/repro-fetch".to_string();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if step.network {
        env.extend(deps::network_env(|name| std::env::var(name).ok()));
    }
    env.extend(step.env.clone());
    env.insert("PATH".into(), STANDARD_PATH.into());
    env.insert("HOME".into(), home.clone());
    env.insert("LC_ALL".into(), "C.UTF-8".into());
    RunSpec {
        label: label.to_string(),
        variations: Default::default(),
        command: step.argv.clone(),
        env,
        build_path: "/build/fetch".into(),
        user: UserSpec {
            uid,
            gid,
            name: "repro-fetch".into(),
        },
        home,
        hostname: "repro-fetch".into(),
        domainname: "example.org".into(),
        umask: "0022".into(),
        cpuset: None,
        file_order: FileOrder::Sorted,
        source_date_epoch: 0,
        extra_path_dirs: Vec::new(),
        network: step.network,
        timeout_secs: FETCH_TIMEOUT_SECS,
        memory_bytes: FETCH_MEMORY_BYTES,
        // Downloads go to the store's mounted folders; this bounds what else the tools write.
        disk_bytes: FETCH_DISK_BYTES,
    }
}

/// A fetch step is stopped past this (a registry that hangs must not hold a check forever).
pub const FETCH_TIMEOUT_SECS: u64 = 20 * 60;
const FETCH_MEMORY_BYTES: u64 = 4 << 30;
const FETCH_DISK_BYTES: u64 = 4 << 30;
/// The fetch user when repro runs as root: never root in the container.
const FETCH_UID: u32 = 2000;

fn fetch_user() -> (u32, u32) {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    if uid == 0 {
        (FETCH_UID, FETCH_UID)
    } else {
        (uid, gid)
    }
}

fn step_mounts(step: &FetchStep, root: &Path, work: &Path) -> Vec<Mount> {
    step.mounts(root, work)
        .into_iter()
        // The CA bundle only where the host has one.
        .filter(|m| m.container != deps::CA_BUNDLE || Path::new(deps::CA_BUNDLE).is_file())
        .map(|m| Mount {
            host: m.host,
            target: m.container,
            read_only: m.read_only,
        })
        .collect()
}

fn empty_tar(path: &Path) -> Result<(), CheckError> {
    let file = std::fs::File::create(path).map_err(CheckError::io(format!("creating {}", path.display())))?;
    tar::Builder::new(file)
        .into_inner()
        .map(drop)
        .map_err(CheckError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lockfile_of_workspace_members_only_needs_no_fetch() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("Cargo.lock"),
            "version = 4\n\n[[package]]\nname = \"x\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let detected = deps::detect(d.path()).unwrap();
        assert!(nothing_to_fetch(d.path(), &detected[0]).unwrap());
        std::fs::write(
            d.path().join("Cargo.lock"),
            "version = 4\n\n[[package]]\nname = \"x\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n\
             [[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \
             \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \
             \"49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b\"\n",
        )
        .unwrap();
        assert!(!nothing_to_fetch(d.path(), &detected[0]).unwrap());
    }

    #[test]
    fn fetch_runs_never_run_as_root_and_have_the_network_only_when_the_step_says() {
        let step = FetchStep {
            label: "hooks",
            network: false,
            out_writable: false,
            argv: vec!["python3".into(), "/fetch/in/hooks.py".into()],
            env: BTreeMap::new(),
        };
        let spec = fetch_spec("fetch-python-1-2", &step);
        assert_ne!(spec.user.uid, 0);
        assert!(!spec.network);
        assert!(!spec.env.contains_key("SSL_CERT_FILE"), "{:?}", spec.env);
        let networked = FetchStep {
            network: true,
            ..step
        };
        let spec = fetch_spec("fetch-python-1-1", &networked);
        assert!(spec.network);
        assert_eq!(
            spec.env.get("SSL_CERT_FILE").map(String::as_str),
            Some(deps::CA_BUNDLE)
        );
    }
}
