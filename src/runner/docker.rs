//! The Docker backend: each run is a container made through the engine's API (bollard, never
//! the `docker` CLI) with networking off, every capability dropped, no new privileges, memory,
//! pids and CPU limits, a tmpfs build directory and a timeout. Containers carry labels that
//! mark them as ours, and are removed on every path (success, failure, timeout, engine error,
//! SIGINT/SIGTERM); leftovers of dead repro processes are removed at start.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount as EngineMount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions, UploadToContainerOptions,
};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use std::io::Write;

use super::workspace::{self, REPRO_DIR};
use super::{Backend, ImageInfo, RunError, RunRequest, RunResult, leftovers, limits};
use crate::engine::Engine;
use crate::image::{ImageRef, Progress};

pub use super::leftovers::{LABEL_CHECK, LABEL_DEADLINE, LABEL_HOST, LABEL_MANAGED, LABEL_PID};

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
    /// Where a builder image the engine lacks is pulled from by digest (else it is loaded).
    registry: Option<String>,
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
            registry: None,
        }
    }

    /// A backend on an engine already connected.
    pub fn with_engine(engine: Engine) -> DockerBackend {
        DockerBackend {
            engine: Arc::new(tokio::sync::OnceCell::new_with(Some(engine))),
            live: Arc::default(),
            registry: None,
        }
    }

    /// Builder images the engine lacks are pulled by digest from `registry`, where `repro image
    /// push` put them, instead of being loaded from repro's cache.
    pub fn with_registry(mut self, registry: Option<String>) -> DockerBackend {
        self.registry = registry;
        self
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
            super::resolve::resolve(engine.docker(), &image_ref, self.registry.as_deref(), progress).await
        })
    }

    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>> {
        Box::pin(async move { remove_leftovers(self.engine().await?.docker()).await })
    }

    fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>> {
        let (engine, live) = (self.engine.clone(), self.live.clone());
        Box::pin(async move {
            let engine = engine.get_or_try_init(connect_engine).await?;
            let bind = shares_host_files(engine.endpoint());
            if let Some(mount) = req.mounts.iter().find(|m| !m.read_only)
                && !bind
            {
                return Err(RunError::Unsupported {
                    backend: "docker",
                    what: format!(
                        "a writable folder of this host ({}) on the engine at {}, another machine: \
                         the dependency fetch needs an engine on this host (unix:// or a loopback \
                         tcp://); once the store has the entry, builds run on any engine",
                        mount.host.display(),
                        engine.endpoint()
                    ),
                });
            }
            run(engine.docker(), &live, req, bind).await
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

/// Removes the containers [`leftovers::judge`] calls leftovers: this host's dead runs at once,
/// other hosts' only once stopped or past their deadline.
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
    let here = leftovers::host_id();
    let now = unix_now();
    let mut removed = 0;
    for c in list {
        let facts = leftovers::Facts {
            labels: c.labels.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            created: c.created.unwrap_or(0),
        };
        if let (Some(id), Some(_why)) = (
            c.id,
            leftovers::judge(&facts, here.as_deref(), now, leftovers::pid_alive),
        ) {
            remove(docker, &id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How long a container lives once started: the build's timeout and time to hand over its
/// outputs (a quarter of the timeout, between 15 s and 5 min).
pub fn lifetime_secs(timeout_secs: u64) -> u64 {
    timeout_secs.saturating_add((timeout_secs / 4).clamp(15, 300))
}

/// Time allowed between creating a container and starting it (the upload).
pub const UPLOAD_ALLOWANCE_SECS: u64 = 600;

/// Whether the engine at `endpoint` sees this host's files at the same paths (bind mounts work):
/// a local socket or a loopback address. `ssh://` and other hosts do not.
fn shares_host_files(endpoint: &str) -> bool {
    if endpoint.starts_with("unix://") || endpoint.starts_with('/') {
        return true;
    }
    let Some(rest) = ["tcp://", "http://", "https://"]
        .iter()
        .find_map(|scheme| endpoint.strip_prefix(scheme))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Runs one build in a fresh container; the container is removed whatever happens.
/// `bind`: the engine sees this host's files, and mounts are bind mounts; else read-only ones
/// are uploaded into the container before it starts (writable ones were refused before).
async fn run(
    docker: &Docker,
    live: &Mutex<HashSet<String>>,
    req: RunRequest,
    bind: bool,
) -> Result<RunResult, RunError> {
    let name = format!("repro-{}-{}", req.check_id, req.spec.label.to_ascii_lowercase());
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            container_config(&req, unix_now(), bind),
        )
        .await
        .map_err(RunError::engine(format!("create container {name}")))?;
    let id = created.id;
    lock(live).insert(id.clone());
    let result = run_in(docker, &id, &req, bind).await;
    remove(docker, &id).await;
    lock(live).remove(&id);
    result
}

/// The container: its main process only waits out the container's lifetime, so the engine
/// stops it by then even when repro is gone; the build runs in it through `exec`.
fn container_config(req: &RunRequest, now: i64, bind: bool) -> ContainerCreateBody {
    let spec = &req.spec;
    let lifetime = lifetime_secs(spec.timeout_secs);
    let cmd = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        "exec sleep \"$1\"".into(),
        "repro-lifetime".into(),
        lifetime.to_string(),
    ];
    let deadline = now
        .saturating_add_unsigned(lifetime)
        .saturating_add_unsigned(UPLOAD_ALLOWANCE_SECS);
    let memory = i64::try_from(spec.memory_bytes).unwrap_or(i64::MAX);
    let host = HostConfig {
        network_mode: Some(if spec.network { "bridge" } else { "none" }.into()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(4096),
        cpuset_cpus: spec.cpuset.clone(),
        tmpfs: Some(limits::tmpfs(spec)),
        init: Some(true),
        mounts: (bind && !req.mounts.is_empty()).then(|| {
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
        user: Some(user(spec)),
        // The build's environment is in /repro/build.env; the container itself gets only PATH.
        env: Some(vec![format!("PATH={}", crate::plan::STANDARD_PATH)]),
        hostname: Some(spec.hostname.clone()),
        domainname: Some(spec.domainname.clone()),
        working_dir: Some("/".into()),
        network_disabled: Some(!spec.network),
        labels: Some({
            let mut labels = leftovers::labels(&req.check_id, deadline);
            // The caller's own (a fleet's): never in place of ours.
            for (k, v) in &req.labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            labels
        }),
        host_config: Some(host),
        ..Default::default()
    }
}

fn user(spec: &crate::plan::RunSpec) -> String {
    format!("{}:{}", spec.user.uid, spec.user.gid)
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

/// The read-only mounts as one archive to upload at `/`, for an engine that cannot see this
/// host's files: every entry owned by root with plain modes (0644/0755), so the build user can
/// read and not change them, as with a read-only mount. Symlinks are kept, never followed.
fn write_mounts_tar(mounts: &[super::Mount], path: &Path) -> Result<(), RunError> {
    let file = std::fs::File::create(path).map_err(RunError::io(format!("creating {}", path.display())))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    for m in mounts {
        let target = m.target.trim_start_matches('/');
        let io = RunError::io(format!("packing {} for {}", m.host.display(), m.target));
        let meta = std::fs::symlink_metadata(&m.host)
            .map_err(RunError::io(format!("reading {}", m.host.display())))?;
        if meta.is_dir() {
            tar.append_dir_all(target, &m.host).map_err(io)?;
        } else {
            tar.append_path_with_name(&m.host, target).map_err(io)?;
        }
    }
    tar.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(RunError::io(format!("writing {}", path.display())))
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

async fn run_in(docker: &Docker, id: &str, req: &RunRequest, bind: bool) -> Result<RunResult, RunError> {
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
    if !bind && !req.mounts.is_empty() {
        let mounts_path = req.work.join("mounts.tar");
        write_mounts_tar(&req.mounts, &mounts_path)?;
        upload(docker, id, &mounts_path).await?;
        let _ = std::fs::remove_file(&mounts_path);
    }
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
    // Local files written from the output callback: plain (blocking) writes, buffered.
    let log =
        std::fs::File::create(&log_path).map_err(RunError::io(format!("creating {}", log_path.display())))?;
    let mut sink = LogSink {
        file: std::io::BufWriter::new(log),
        tail: super::LogTail::default(),
        partial: Vec::new(),
        live: req.log_lines.clone().map(|tx| (spec.label.clone(), tx)),
    };
    let mut argv = vec![
        "/bin/sh".to_string(),
        format!("{REPRO_DIR}/entry.sh"),
        "build".into(),
    ];
    argv.extend(spec.command.iter().cloned());
    // The entry script stops the build at its timeout; this is the backstop should it not.
    let timeout = Duration::from_secs(spec.timeout_secs.saturating_add(CLIENT_GRACE_SECS));
    let run_as = user(spec);
    let build = exec(docker, id, argv, &run_as, |chunk| sink.write(chunk));
    let (mut exit_code, mut timed_out) = match tokio::time::timeout(timeout, build).await {
        Ok(code) => (code?, false),
        Err(_) => (-1, true),
    };
    let build_time = build_started.elapsed();
    // coreutils' timeout exits 124 (TERM) or 137 (KILL after its grace) at the deadline.
    if matches!(exit_code, 124 | 137) && build_time >= Duration::from_secs(spec.timeout_secs) {
        timed_out = true;
    }
    let mut filled = Vec::new();
    let mut outputs_archive = None;
    if timed_out {
        kill(docker, id).await;
    } else if exit_code == 0 {
        let path = req.work.join("outputs.tar");
        let file =
            std::fs::File::create(&path).map_err(RunError::io(format!("creating {}", path.display())))?;
        let mut file = std::io::BufWriter::new(file);
        let argv = vec![
            "/bin/sh".into(),
            format!("{REPRO_DIR}/entry.sh"),
            "outputs".into(),
        ];
        let mut failed = Ok(());
        let code = exec(docker, id, argv, &run_as, |chunk| match chunk {
            Chunk::Out(bytes) if failed.is_ok() => failed = file.write_all(bytes),
            Chunk::Err(bytes) => sink.write(Chunk::Err(bytes)),
            Chunk::Out(_) => {}
        })
        .await?;
        failed.map_err(RunError::io(format!("writing {}", path.display())))?;
        file.flush()
            .map_err(RunError::io(format!("writing {}", path.display())))?;
        if code == 0 {
            outputs_archive = Some(path);
        } else {
            sink.write(Chunk::Err(
                format!("repro: collecting the outputs failed (status {code})\n").as_bytes(),
            ));
            exit_code = 125;
        }
    }
    if exit_code != 0 && !timed_out {
        // Which of the bounded places the build filled, asked while the container still runs.
        let mut df = Vec::new();
        exec(docker, id, limits::df_args(spec), &run_as, |chunk| {
            if let Chunk::Out(bytes) = chunk {
                df.extend_from_slice(bytes);
            }
        })
        .await?;
        filled = limits::filled(spec, &String::from_utf8_lossy(&df), &sink.tail.lines());
        for f in &filled {
            sink.write(Chunk::Err(format!("repro: {f}\n").as_bytes()));
        }
    }
    let log_tail = sink.finish();
    let duration = started.elapsed();
    Ok(RunResult {
        exit_code,
        timed_out,
        duration,
        log_path,
        log_tail,
        outputs_wrapped: false,
        outputs_archive,
        container_env,
        container_mounts,
        overhead: duration.saturating_sub(build_time),
        filled,
        placement: None,
    })
}

/// Time past the build's timeout before repro itself stops the container.
const CLIENT_GRACE_SECS: u64 = 10;

async fn kill(docker: &Docker, id: &str) {
    let _ = docker
        .kill_container(
            id,
            Some(KillContainerOptions {
                signal: "KILL".into(),
            }),
        )
        .await;
}

/// Output of a command run in the container.
enum Chunk<'a> {
    Out(&'a [u8]),
    Err(&'a [u8]),
}

/// Runs `argv` in the running container as `user`, handing its output to `on_output`, and
/// returns its exit status. Ends when the command has exited, even if processes it left
/// behind still hold its output open.
async fn exec(
    docker: &Docker,
    id: &str,
    argv: Vec<String>,
    user: &str,
    mut on_output: impl FnMut(Chunk<'_>),
) -> Result<i64, RunError> {
    let created = docker
        .create_exec(
            id,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(argv),
                user: Some(user.to_string()),
                working_dir: Some("/".to_string()),
                ..Default::default()
            },
        )
        .await
        .map_err(RunError::engine("run a command in the build container"))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(RunError::engine("run a command in the build container"))?;
    let StartExecResults::Attached { mut output, .. } = started else {
        return Err(RunError::Unsupported {
            backend: "docker",
            what: "attach to a command in the build container".into(),
        });
    };
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let mut exited_at: Option<Instant> = None;
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => on_output(Chunk::Out(&message)),
                Some(Ok(LogOutput::StdErr { message })) => on_output(Chunk::Err(&message)),
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(_)) | None => break,
            },
            _ = poll.tick() => {
                if let Some(at) = exited_at {
                    // What is still buffered has arrived by now; the rest belongs to leftovers.
                    if at.elapsed() > Duration::from_secs(2) {
                        break;
                    }
                    continue;
                }
                let state = docker
                    .inspect_exec(&created.id)
                    .await
                    .map_err(RunError::engine("follow a command in the build container"))?;
                if state.running == Some(false) {
                    exited_at = Some(Instant::now());
                }
            }
        }
    }
    // The output can end a moment before the engine records the exit (seen under load): wait
    // for the exit code rather than reading none.
    let settled = Instant::now();
    loop {
        let state = docker
            .inspect_exec(&created.id)
            .await
            .map_err(RunError::engine("follow a command in the build container"))?;
        match state.exit_code {
            Some(code) if state.running != Some(true) => return Ok(code),
            _ if settled.elapsed() > Duration::from_secs(30) => return Ok(state.exit_code.unwrap_or(-1)),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The build log as it arrives: into the log file, the last lines, and `-v`'s live view.
struct LogSink {
    file: std::io::BufWriter<std::fs::File>,
    tail: super::LogTail,
    partial: Vec<u8>,
    live: Option<(String, super::LogLines)>,
}

impl LogSink {
    fn write(&mut self, chunk: Chunk<'_>) {
        let (Chunk::Out(bytes) | Chunk::Err(bytes)) = chunk;
        let _ = self.file.write_all(bytes);
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.line(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
    }

    fn line(&mut self, line: String) {
        if let Some((label, tx)) = &self.live {
            let _ = tx.send((label.clone(), line.clone()));
        }
        self.tail.push(line);
    }

    fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(rest);
        }
        let _ = self.file.flush();
        std::mem::take(&mut self.tail).into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_mounts_are_for_engines_on_this_host() {
        for local in [
            "unix:///var/run/docker.sock",
            "/run/docker.sock",
            "tcp://127.0.0.1:2376",
            "tcp://localhost:2375",
            "https://127.0.0.2:2376",
            "tcp://[::1]:2376",
        ] {
            assert!(shares_host_files(local), "{local}");
        }
        for remote in [
            "tcp://10.0.0.5:2376",
            "tcp://builder2.example:2376",
            "ssh://builder@host",
            "ssh://127.0.0.1",
            "tcp://[2001:db8::1]:2376",
            "npipe:////./pipe/docker_engine",
            "",
        ] {
            assert!(!shares_host_files(remote), "{remote}");
        }
    }
}
