//! The engines of a fleet: each connected and identified once; a backend per job that sends
//! its runs to different engines (run A and run B never on the same one while two are up) and
//! retries a run lost with its engine on another one, recording both.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use futures_util::future::BoxFuture;

use crate::engine::{Engine, EngineAddress, EngineIdentity, Placement, Unreachable};
use crate::runner::docker::DockerBackend;
use crate::runner::{Backend, ImageInfo, Progress, RunError, RunRequest, RunResult};

/// Label naming the coordinator that made a container (`HOST-PID-STARTNANOS`).
pub const LABEL_COORDINATOR: &str = "dev.repro.fleet.coordinator";
/// Label naming the job a container ran for (the job as given).
pub const LABEL_JOB: &str = "dev.repro.fleet.job";

struct Member {
    engine: Engine,
    backend: DockerBackend,
    identity: EngineIdentity,
    alive: AtomicBool,
    /// Images made present by a preflight, by reference: each loaded once per engine even
    /// when several jobs start together.
    images: tokio::sync::Mutex<HashMap<String, ImageInfo>>,
}

/// The engines a batch runs on.
pub struct EnginePool {
    members: Vec<Member>,
}

impl EnginePool {
    /// Connects to every address; the ones that do not answer are returned beside the pool.
    /// With a `registry`, engines lacking a builder image pull it from there by digest.
    pub async fn connect(
        addresses: &[EngineAddress],
        registry: Option<&str>,
    ) -> (EnginePool, Vec<Unreachable>) {
        let mut members = Vec::new();
        let mut down = Vec::new();
        for address in addresses {
            let engine = match Engine::connect_to(address).await {
                Ok(e) => e,
                Err(e) => {
                    down.push(e);
                    continue;
                }
            };
            match engine.identify().await {
                Ok(identity) => members.push(Member {
                    backend: DockerBackend::with_engine(engine.clone())
                        .with_registry(registry.map(str::to_owned)),
                    engine,
                    identity,
                    alive: AtomicBool::new(true),
                    images: tokio::sync::Mutex::default(),
                }),
                Err(e) => down.push(e),
            }
        }
        (EnginePool { members }, down)
    }

    /// The engines still up.
    pub fn alive(&self) -> Vec<EngineIdentity> {
        self.members
            .iter()
            .filter(|m| m.alive.load(Ordering::SeqCst))
            .map(|m| m.identity.clone())
            .collect()
    }

    /// A backend for one job: its runs spread from engine `offset` on, its containers labelled
    /// with the coordinator and the job.
    pub fn for_job(self: &Arc<Self>, offset: usize, coordinator: &str, job: &str, job_id: i64) -> JobBackend {
        JobBackend {
            pool: self.clone(),
            offset,
            job_id,
            labels: BTreeMap::from([
                (LABEL_COORDINATOR.to_string(), coordinator.to_string()),
                (LABEL_JOB.to_string(), job.to_string()),
            ]),
        }
    }

    /// Removes, on every engine up, the containers of coordinators `dead` says are dead;
    /// returns how many, and whether every engine could be asked.
    pub async fn remove_orphans(&self, dead: &dyn Fn(&str) -> bool) -> (usize, bool) {
        let mut removed = 0;
        let mut complete = true;
        for m in &self.members {
            let docker = m.engine.docker();
            let filters = HashMap::from([("label".to_string(), vec![LABEL_COORDINATOR.to_string()])]);
            let list = match docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    filters: Some(filters),
                    ..Default::default()
                }))
                .await
            {
                Ok(l) => l,
                Err(_) => {
                    complete = false;
                    continue;
                }
            };
            for c in list {
                let owner = c.labels.as_ref().and_then(|l| l.get(LABEL_COORDINATOR)).cloned();
                let (Some(id), Some(owner)) = (c.id, owner) else {
                    continue;
                };
                if !dead(&owner) {
                    continue;
                }
                let opts = RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                match docker.remove_container(&id, Some(opts)).await {
                    Ok(()) => removed += 1,
                    Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                    Err(_) => complete = false,
                }
            }
        }
        (removed, complete)
    }

    /// The reference a preflight resolved to `image_id`, on whichever engine.
    async fn reference_of(&self, image_id: &str) -> Option<String> {
        for m in &self.members {
            let images = m.images.lock().await;
            if let Some((reference, _)) = images.iter().find(|(_, info)| info.image_id == image_id) {
                return Some(reference.clone());
            }
        }
        None
    }

    /// Stops and removes every run still live on any engine (on Ctrl-C or SIGTERM).
    pub async fn cancel_live(&self) {
        for m in &self.members {
            m.backend.cancel_live().await;
        }
    }

    /// Whether engine `i` still answers; marks it down when not.
    async fn check_alive(&self, i: usize) -> bool {
        let Some(m) = self.members.get(i) else {
            return false;
        };
        let up = m.engine.ping().await.is_ok();
        if !up {
            m.alive.store(false, Ordering::SeqCst);
        }
        up
    }

    /// The order in which to try engines for a run: its preferred engine first (run A on the
    /// job's first engine, run B on the next, other runs spread by label), then the others.
    fn order(&self, offset: usize, label: &str) -> Vec<usize> {
        let n = self.members.len().max(1);
        let slot = match label {
            crate::plan::CONTROL => 0,
            "B" => 1,
            other => other.bytes().map(usize::from).sum(),
        };
        let first = (offset + slot) % n;
        (0..n)
            .map(|k| (first + k) % n)
            .filter(|&i| {
                self.members
                    .get(i)
                    .is_some_and(|m| m.alive.load(Ordering::SeqCst))
            })
            .collect()
    }
}

/// A job's view of the pool: a [`Backend`] whose runs go to several engines.
#[derive(Clone)]
pub struct JobBackend {
    pool: Arc<EnginePool>,
    offset: usize,
    job_id: i64,
    labels: BTreeMap<String, String>,
}

/// Whether an error says the engine went away (as opposed to refusing something).
fn engine_lost(e: &RunError) -> bool {
    matches!(e, RunError::Unreachable(_) | RunError::Engine { .. })
}

impl Backend for JobBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    /// The image on every engine up (loaded from repro's cache where missing); an engine that
    /// does not answer is left out of the batch.
    fn preflight<'a>(
        &'a self,
        reference: &'a str,
        allow_unpinned: bool,
        progress: Arc<dyn Progress>,
    ) -> BoxFuture<'a, Result<ImageInfo, RunError>> {
        Box::pin(async move {
            let mut first: Option<ImageInfo> = None;
            let mut last_error = None;
            for (i, m) in self.pool.members.iter().enumerate() {
                if !m.alive.load(Ordering::SeqCst) {
                    continue;
                }
                let mut images = m.images.lock().await;
                let info = match images.get(reference) {
                    Some(info) => Ok(info.clone()),
                    None => {
                        m.backend
                            .preflight(reference, allow_unpinned, progress.clone())
                            .await
                    }
                };
                match info {
                    Ok(info) => {
                        images.insert(reference.to_string(), info.clone());
                        first.get_or_insert(info);
                    }
                    Err(e) if engine_lost(&e) && !self.pool.check_alive(i).await => last_error = Some(e),
                    Err(e) => return Err(e),
                }
            }
            match (first, last_error) {
                (Some(info), _) => Ok(info),
                (None, Some(e)) => Err(e),
                (None, None) => Err(RunError::Unsupported {
                    backend: "fleet",
                    what: "run anything: no engine is left".into(),
                }),
            }
        })
    }

    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>> {
        Box::pin(async move {
            let mut n = 0;
            for m in self
                .pool
                .members
                .iter()
                .filter(|m| m.alive.load(Ordering::SeqCst))
            {
                n += m.backend.remove_leftovers().await?;
            }
            Ok(n)
        })
    }

    fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>> {
        let this = self.clone();
        Box::pin(async move {
            let mut lost = Vec::new();
            let mut last_error = None;
            for i in this.pool.order(this.offset, &req.spec.label) {
                let Some(m) = this.pool.members.get(i) else {
                    continue;
                };
                if !m.alive.load(Ordering::SeqCst) {
                    continue;
                }
                let mut req = req.clone();
                // Names are per check: jobs of one process may start in the same second.
                req.check_id = format!("{}-j{}", req.check_id, this.job_id);
                req.labels.extend(this.labels.clone());
                // The image as this engine knows it (the same ID on engines with the classic store).
                if let Some(reference) = this.pool.reference_of(&req.image).await
                    && let Some(info) = m.images.lock().await.get(&reference)
                {
                    req.image = info.image_id.clone();
                }
                let what = |e: &dyn std::fmt::Display| format!("{} ({}): {e}", m.identity.url, m.identity.id);
                match m.backend.run(req).await {
                    Ok(mut result) => {
                        if !result.succeeded() && !this.pool.check_alive(i).await {
                            lost.push(what(&format!(
                                "the engine went away during the build (exit status {})",
                                result.exit_code
                            )));
                            continue;
                        }
                        result.placement = Some(Placement {
                            engine: m.identity.clone(),
                            lost,
                        });
                        return Ok(result);
                    }
                    Err(e) if engine_lost(&e) && !this.pool.check_alive(i).await => {
                        lost.push(what(&e));
                        last_error = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(last_error.unwrap_or(RunError::Unsupported {
                backend: "fleet",
                what: "run the build: no engine is left".into(),
            }))
        })
    }

    fn cancel_live(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.cancel_live())
    }
}

/// Engines from a config file: `[[engine]]` tables with `url` and, for TLS, `tls` (a folder
/// with `ca.pem`, `cert.pem`, `key.pem`).
pub fn read_config(path: &Path) -> Result<Vec<EngineAddress>, ConfigError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        engine: Vec<EngineAddress>,
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: File = toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    for e in &file.engine {
        check_url(&e.url).map_err(|why| ConfigError::Url {
            path: path.to_path_buf(),
            url: e.url.clone(),
            why,
        })?;
    }
    Ok(file.engine)
}

/// Whether an engine URL has a scheme repro can reach.
pub fn check_url(url: &str) -> Result<(), String> {
    let schemes = ["unix://", "tcp://", "http://", "https://", "ssh://"];
    match schemes.iter().find(|s| url.starts_with(*s)) {
        Some(s) if url.len() > s.len() => Ok(()),
        Some(_) => Err("it names no address".into()),
        None => Err("the scheme must be unix://, tcp:// (TLS with a tls folder), https:// or ssh://".into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the engines file {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the engines file {path} is not valid")]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("the engines file {path} names an engine `{url}`: {why}")]
    Url {
        path: std::path::PathBuf,
        url: String,
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_config_files_are_read_and_checked() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("engines.toml");
        std::fs::write(
            &f,
            "[[engine]]\nurl = \"unix:///var/run/docker.sock\"\n[[engine]]\nurl = \"tcp://h:2376\"\ntls = \"/certs\"\n",
        )
        .unwrap();
        let e = read_config(&f).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].tls.as_deref(), Some(Path::new("/certs")));
        for bad in [
            "[[engine]]\nurl = \"ftp://x\"\n",
            "[[engine]]\nurl = 3\n",
            "[[engine]]\nurl = \"unix://\"\nport = 1\n",
        ] {
            std::fs::write(&f, bad).unwrap();
            let e = read_config(&f).unwrap_err();
            assert!(e.to_string().contains("engines.toml"), "{e}");
        }
        assert!(read_config(&d.path().join("none")).is_err());
        assert!(check_url("unix://").is_err() && check_url("ssh://u@h").is_ok());
    }
}
