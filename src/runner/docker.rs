//! The Docker backend: each run is a container made through the engine's API (bollard, never
//! the `docker` CLI) with networking off, every capability dropped, no new privileges, memory,
//! pids and CPU limits, a tmpfs build directory and a timeout. Containers carry labels that
//! mark them as ours, and are removed on every path (success, failure, timeout, engine error,
//! SIGINT/SIGTERM); leftovers of dead repro processes are removed at start.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount as EngineMount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, UploadToContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::workspace::{self, BUILD_MOUNT, OUT_DIR, REPRO_DIR};
use super::{Backend, ImageInfo, RunError, RunRequest, RunResult};
use crate::engine::Engine;
use crate::image::{ImageRef, Progress};
use crate::plan::{Plan, Variation};

/// Label on every container repro creates.
pub const LABEL_MANAGED: &str = "dev.repro.managed";
/// Label holding the creating process's pid, to find leftovers of dead processes.
pub const LABEL_PID: &str = "dev.repro.pid";
/// Label naming the check a container belongs to.
pub const LABEL_CHECK: &str = "dev.repro.check";

/// Connects to the engine named by `DOCKER_HOST` (any form) or the local socket, settles on
/// an API version both sides speak, and checks that it answers.
pub async fn connect() -> Result<Docker, RunError> {
    Ok(connect_engine().await?.docker().clone())
}

async fn connect_engine() -> Result<Engine, RunError> {
    let engine = Engine::connect().await?;
    engine.ping().await?;
    Ok(engine)
}

/// Containers of one engine. The connection is made on first use; the containers alive in
/// this process are remembered, to be removed on Ctrl-C.
pub struct DockerBackend {
    engine: Arc<tokio::sync::OnceCell<Engine>>,
    live: Arc<Mutex<HashSet<String>>>,
}

impl Default for DockerBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl DockerBackend {
    /// The engine `DOCKER_HOST` names (or the local socket), connected on first use.
    pub fn new() -> DockerBackend {
        DockerBackend {
            engine: Arc::new(tokio::sync::OnceCell::new()),
            live: Arc::default(),
        }
    }

    /// A backend on an engine already connected.
    pub fn with_engine(engine: Engine) -> DockerBackend {
        DockerBackend {
            engine: Arc::new(tokio::sync::OnceCell::new_with(Some(engine))),
            live: Arc::default(),
        }
    }

    /// The engine, connected (and answering) on first use.
    pub async fn engine(&self) -> Result<&Engine, RunError> {
        self.engine.get_or_try_init(connect_engine).await
    }
}

impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn isolated(&self) -> bool {
        true
    }

    fn fit_variations(&self, _: &mut BTreeSet<Variation>) -> Vec<String> {
        Vec::new()
    }

    fn fit_plan(&self, plan: Plan, _: &Path) -> Plan {
        plan
    }

    fn preflight<'a>(
        &'a self,
        reference: &'a str,
        allow_unpinned: bool,
        progress: Arc<dyn Progress>,
    ) -> BoxFuture<'a, Result<ImageInfo, RunError>> {
        Box::pin(async move {
            let image_ref = ImageRef::parse(reference, allow_unpinned)?;
            let engine = self.engine().await?;
            self.remove_leftovers().await?;
            super::resolve::resolve(engine.docker(), &image_ref, progress).await
        })
    }

    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>> {
        Box::pin(async move { remove_leftovers(self.engine().await?.docker()).await })
    }

    fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>> {
        let (engine, live) = (self.engine.clone(), self.live.clone());
        Box::pin(async move {
            let engine = engine.get_or_try_init(connect_engine).await?;
            run(engine.docker(), &live, req).await
        })
    }

    fn cancel_live(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(engine) = self.engine.get() else {
                return;
            };
            let ids: Vec<String> = lock(&self.live).drain().collect();
            let removals = ids.iter().map(|id| remove(engine.docker(), id));
            futures_util::future::join_all(removals).await;
        })
    }
}

fn lock(live: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

async fn remove(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    // A container already gone is fine; anything else we can only report.
    if let Err(e) = docker.remove_container(id, Some(opts)).await
        && !matches!(
            e,
            bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }
        )
    {
        // Runs on the cancel and drop paths, where no report is left to carry it.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("warning: could not remove container {id}: {e}");
        }
    }
}

/// Removes containers left by repro processes that no longer exist.
async fn remove_leftovers(docker: &Docker) -> Result<usize, RunError> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_MANAGED.to_string()])]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(RunError::engine("list containers"))?;
    let mut removed = 0;
    for c in list {
        let pid = c
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_PID))
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if let (Some(id), false) = (c.id, alive) {
            remove(docker, &id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Runs one build in a fresh container; the container is removed whatever happens.
async fn run(docker: &Docker, live: &Mutex<HashSet<String>>, req: RunRequest) -> Result<RunResult, RunError> {
    let name = format!("repro-{}-{}", req.check_id, req.spec.label.to_ascii_lowercase());
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            container_config(&req),
        )
        .await
        .map_err(RunError::engine(format!("create container {name}")))?;
    let id = created.id;
    lock(live).insert(id.clone());
    let result = run_in(docker, &id, &req).await;
    remove(docker, &id).await;
    lock(live).remove(&id);
    result
}

fn container_config(req: &RunRequest) -> ContainerCreateBody {
    let spec = &req.spec;
    let mut cmd = vec!["/bin/sh".to_string(), format!("{REPRO_DIR}/entry.sh")];
    cmd.extend(spec.command.iter().cloned());
    let mut labels = HashMap::from([
        (LABEL_MANAGED.to_string(), "1".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_CHECK.to_string(), req.check_id.to_string()),
    ]);
    // The caller's own (a fleet's): never in place of ours.
    for (k, v) in &req.labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let memory = i64::try_from(spec.memory_bytes).unwrap_or(i64::MAX);
    let host = HostConfig {
        network_mode: Some(if spec.network { "bridge" } else { "none" }.into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(4096),
        cpuset_cpus: spec.cpuset.clone(),
        tmpfs: Some(HashMap::from([(
            BUILD_MOUNT.to_string(),
            format!("rw,exec,nosuid,nodev,mode=1777,size={}", spec.memory_bytes),
        )])),
        init: Some(true),
        mounts: (!req.mounts.is_empty()).then(|| {
            req.mounts
                .iter()
                .map(|m| EngineMount {
                    target: Some(m.target.clone()),
                    source: Some(m.host.display().to_string()),
                    typ: Some(MountType::BIND),
                    read_only: Some(m.read_only),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(req.image.to_string()),
        cmd: Some(cmd),
        user: Some(format!("{}:{}", spec.user.uid, spec.user.gid)),
        // The build's environment is in /repro/build.env; the container itself gets only PATH.
        env: Some(vec![format!("PATH={}", crate::plan::STANDARD_PATH)]),
        hostname: Some(spec.hostname.clone()),
        domainname: Some(spec.domainname.clone()),
        working_dir: Some("/".into()),
        network_disabled: Some(!spec.network),
        labels: Some(labels),
        host_config: Some(host),
        ..Default::default()
    }
}

async fn read_file_from(docker: &Docker, id: &str, path: &str) -> Result<String, RunError> {
    let mut stream = docker.download_from_container(
        id,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(RunError::engine(format!("read {path} from the image")))?);
    }
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut text = String::new();
    let entries = archive
        .entries()
        .map_err(RunError::io(format!("reading {path} from the image")))?;
    if let Some(entry) = entries.into_iter().next() {
        let mut entry = entry.map_err(RunError::io(format!("reading {path} from the image")))?;
        entry
            .read_to_string(&mut text)
            .map_err(RunError::io(format!("reading {path}")))?;
    }
    Ok(text)
}

async fn upload(docker: &Docker, id: &str, archive: &Path) -> Result<(), RunError> {
    let file = tokio::fs::File::open(archive)
        .await
        .map_err(RunError::io(format!("opening {}", archive.display())))?;
    let stream = tokio_util_stream(file);
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            }),
            bollard::body_try_stream(stream),
        )
        .await
        .map_err(RunError::engine("accept the build's files"))
}

/// A file as a stream of byte chunks (what the upload endpoint takes).
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

async fn run_in(docker: &Docker, id: &str, req: &RunRequest) -> Result<RunResult, RunError> {
    let started = Instant::now();
    let spec = &req.spec;
    let passwd = read_file_from(docker, id, "/etc/passwd").await?;
    let group = read_file_from(docker, id, "/etc/group").await?;
    let (passwd, group) = workspace::user_files(spec, &passwd, &group);
    let upload_path = req.work.join("upload.tar");
    {
        let f = std::fs::File::create(&upload_path)
            .map_err(RunError::io(format!("creating {}", upload_path.display())))?;
        let w = std::io::BufWriter::new(f);
        workspace::write_upload_tar(spec, (&passwd, &group), &req.output_globs, &req.source_tar, w)?;
    }
    upload(docker, id, &upload_path).await?;
    let _ = std::fs::remove_file(&upload_path);
    let inspect = docker
        .inspect_container(id, None)
        .await
        .map_err(RunError::engine("inspect the build container"))?;
    let container_env = inspect
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let container_mounts = inspect
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.destination)
        .chain(
            inspect
                .host_config
                .as_ref()
                .and_then(|h| h.tmpfs.clone())
                .unwrap_or_default()
                .into_keys(),
        )
        .collect();
    docker
        .start_container(id, None)
        .await
        .map_err(RunError::engine("start the build container"))?;
    let build_started = Instant::now();
    let log_path = req.work.join("build.log");
    let logs = stream_logs(
        docker,
        id,
        &log_path,
        req.log_lines.clone().map(|tx| (spec.label.clone(), tx)),
    );
    let wait = async {
        let mut s = docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        match s.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(RunError::engine("wait for the build")(e)),
            None => Ok(-1),
        }
    };
    let timeout = Duration::from_secs(spec.timeout_secs);
    let (exit_code, timed_out) = match tokio::time::timeout(timeout, wait).await {
        Ok(code) => (code?, false),
        Err(_) => {
            let _ = docker
                .kill_container(
                    id,
                    Some(KillContainerOptions {
                        signal: "KILL".into(),
                    }),
                )
                .await;
            (-1, true)
        }
    };
    let build_time = build_started.elapsed();
    let log_tail = match logs.await {
        Ok(tail) => tail?,
        Err(e) => {
            return Err(RunError::io("following the build log")(std::io::Error::other(e)));
        }
    };
    let outputs_archive = if exit_code == 0 && !timed_out {
        let path = req.work.join("out.tar");
        download(docker, id, OUT_DIR, &path).await?;
        Some(path)
    } else {
        None
    };
    let duration = started.elapsed();
    Ok(RunResult {
        exit_code,
        timed_out,
        duration,
        log_path,
        log_tail,
        outputs_wrapped: true,
        outputs_archive,
        container_env,
        container_mounts,
        overhead: duration.saturating_sub(build_time),
        placement: None,
    })
}

async fn download(docker: &Docker, id: &str, path: &str, to: &Path) -> Result<(), RunError> {
    let mut stream = docker.download_from_container(
        id,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut f = tokio::fs::File::create(to)
        .await
        .map_err(RunError::io(format!("creating {}", to.display())))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(RunError::engine("hand over the build outputs"))?;
        f.write_all(&chunk)
            .await
            .map_err(RunError::io(format!("writing {}", to.display())))?;
    }
    f.flush()
        .await
        .map_err(RunError::io(format!("writing {}", to.display())))?;
    Ok(())
}

/// Follows the container's output into `log_path` (and `lines`), returning the last lines.
fn stream_logs(
    docker: &Docker,
    id: &str,
    log_path: &Path,
    lines: Option<(String, tokio::sync::mpsc::UnboundedSender<(String, String)>)>,
) -> tokio::task::JoinHandle<Result<Vec<String>, RunError>> {
    let docker = docker.clone();
    let id = id.to_string();
    let log_path = log_path.to_path_buf();
    tokio::spawn(async move {
        let mut stream = docker.logs(
            &id,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut file = tokio::fs::File::create(&log_path)
            .await
            .map_err(RunError::io(format!("creating {}", log_path.display())))?;
        let mut tail = super::LogTail::default();
        let mut partial = String::new();
        while let Some(item) = stream.next().await {
            let Ok(out) = item else { break };
            let bytes = out.into_bytes();
            let _ = file.write_all(&bytes).await;
            partial.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(pos) = partial.find('\n') {
                let line: String = partial.drain(..=pos).collect();
                let line = line.trim_end_matches('\n').to_string();
                if let Some((label, tx)) = &lines {
                    let _ = tx.send((label.clone(), line.clone()));
                }
                tail.push(line);
            }
        }
        if !partial.is_empty() {
            tail.push(partial);
        }
        let _ = file.flush().await;
        Ok(tail.into_vec())
    })
}
