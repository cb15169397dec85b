//! The local backend: the same entry script as a plain process in a scratch directory, for
//! machines without an engine. It isolates nothing — the build sees the host's filesystem,
//! network, hostname and user — and every report says so. Of the variations it applies what a
//! process can be given (paths, file order, umask, locale, timezone, home, environment, PATH,
//! the clock when libfaketime is installed, one CPU through taskset); hostname and user need a
//! container.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::workspace::{self, ENTRY_SCRIPT};
use super::{Backend, ImageInfo, LogTail, RunError, RunRequest, RunResult};
use crate::image::Progress;
use crate::plan::{FAKETIME_LIB, Plan, STANDARD_PATH, Variation};

/// Variations a plain process cannot be given.
pub const UNSUPPORTED: [Variation; 2] = [Variation::Hostname, Variation::User];

/// Environment that points at libfaketime, left out where it is not installed.
const FAKETIME_ENV: [&str; 3] = ["LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"];

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    RunError::io(context)
}

/// Whether libfaketime (for the `time` variation) is installed on this host.
pub fn has_faketime() -> bool {
    Path::new(FAKETIME_LIB).exists()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Plain processes on this machine. The process groups alive in this process are remembered,
/// to be killed on Ctrl-C.
#[derive(Default)]
pub struct LocalBackend {
    live: Arc<Mutex<HashSet<i32>>>,
}

impl LocalBackend {
    pub fn new() -> LocalBackend {
        LocalBackend::default()
    }
}

fn lock(live: &Mutex<HashSet<i32>>) -> std::sync::MutexGuard<'_, HashSet<i32>> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

fn kill_group(pgid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn isolated(&self) -> bool {
        false
    }

    fn fit_variations(&self, variations: &mut BTreeSet<Variation>) -> Vec<String> {
        let mut notes = vec![
            "local backend: the builds ran as plain processes on this machine, UNISOLATED (host \
             filesystem, network and tools)"
                .to_string(),
        ];
        let dropped: Vec<&str> = UNSUPPORTED
            .iter()
            .filter(|v| variations.remove(v))
            .map(|v| v.name())
            .collect();
        if !dropped.is_empty() {
            notes.push(format!(
                "the local backend cannot vary {}: left out",
                dropped.join(", ")
            ));
        }
        if !has_faketime() && variations.remove(&Variation::Time) {
            notes.push(format!(
                "libfaketime is not installed ({FAKETIME_LIB}): the time variation was left out"
            ));
        }
        notes
    }

    fn fit_plan(&self, plan: Plan, work: &Path) -> Plan {
        let mut plan = plan.with_prefix(&scratch_root(work).display().to_string());
        if !has_faketime() {
            for run in &mut plan.runs {
                for var in FAKETIME_ENV {
                    run.env.remove(var);
                }
            }
        }
        plan
    }

    fn preflight<'a>(
        &'a self,
        _reference: &'a str,
        _allow_unpinned: bool,
        _progress: Arc<dyn Progress>,
    ) -> BoxFuture<'a, Result<ImageInfo, RunError>> {
        Box::pin(async { Ok(ImageInfo::this_machine()) })
    }

    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>> {
        // Process groups die with the process that made them (kill_on_drop).
        Box::pin(async { Ok(0) })
    }

    fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>> {
        let live = self.live.clone();
        Box::pin(async move { run(req, &live).await })
    }

    fn cancel_live(&self) -> BoxFuture<'_, ()> {
        let groups: Vec<i32> = lock(&self.live).drain().collect();
        for pgid in groups {
            kill_group(pgid);
        }
        Box::pin(async {})
    }
}

/// Runs one build as a process group; killed past its timeout.
async fn run(req: RunRequest, groups: &Mutex<HashSet<i32>>) -> Result<RunResult, RunError> {
    let started = Instant::now();
    let spec = &req.spec;
    if let Some(m) = req.mounts.first() {
        return Err(RunError::Unsupported {
            backend: "local",
            what: format!("mount {} at {}", m.host.display(), m.target),
        });
    }
    let repro_dir = req.work.join("repro");
    let out_dir = req.work.join("out");
    for d in [&repro_dir, &out_dir] {
        std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
    }
    for (name, text) in workspace::run_files(spec, &req.output_globs) {
        let path = repro_dir.join(name);
        std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
    }
    let tar = repro_dir.join("source.tar");
    std::fs::rename(&req.source_tar, &tar).map_err(io(format!("moving {}", req.source_tar.display())))?;
    for d in std::iter::once(&spec.home).chain(&spec.extra_path_dirs) {
        std::fs::create_dir_all(d).map_err(io(format!("creating {d}")))?;
    }
    if let Some(parent) = Path::new(&spec.build_path).parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }

    let mut argv: Vec<String> = Vec::new();
    if spec.cpuset.is_some() && on_path("taskset") {
        argv.extend([
            "taskset".into(),
            "-c".into(),
            spec.cpuset.clone().unwrap_or_default(),
        ]);
    }
    argv.extend(["sh".into(), repro_dir.join("entry.sh").display().to_string()]);
    argv.extend(spec.command.iter().cloned());
    debug_assert!(!ENTRY_SCRIPT.is_empty());
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", STANDARD_PATH)
        .env("HOME", &spec.home)
        .env("REPRO_DIR", &repro_dir)
        .env("REPRO_OUT", &out_dir)
        .current_dir(&req.work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(io(format!("starting {}", argv[0])))?;
    // The child leads its own process group: its pid is the group's id.
    let pgid = child.id().and_then(|p| i32::try_from(p).ok());
    if let Some(g) = pgid {
        lock(groups).insert(g);
    }
    let build_started = Instant::now();

    let log_path = req.work.join("build.log");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for stream in [
        child.stdout.take().map(Either::Out),
        child.stderr.take().map(Either::Err),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = match stream {
                Either::Out(s) => {
                    Box::pin(BufReader::new(s)) as std::pin::Pin<Box<dyn tokio::io::AsyncBufRead + Send>>
                }
                Either::Err(s) => Box::pin(BufReader::new(s)),
            }
            .lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let label = spec.label.clone();
    let live = req.log_lines.clone();
    let log_file = log_path.clone();
    let logger = tokio::spawn(async move {
        let mut file = tokio::fs::File::create(&log_file).await.ok();
        let mut tail = LogTail::default();
        while let Some(line) = rx.recv().await {
            if let Some(f) = file.as_mut() {
                let _ = f.write_all(format!("{line}\n").as_bytes()).await;
            }
            if let Some(tx) = &live {
                let _ = tx.send((label.clone(), line.clone()));
            }
            tail.push(line);
        }
        tail.into_vec()
    });

    let timeout = Duration::from_secs(spec.timeout_secs);
    let (exit_code, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (
            i64::from(status.map_err(io("waiting for the build"))?.code().unwrap_or(-1)),
            false,
        ),
        Err(_) => {
            if let Some(g) = pgid {
                kill_group(g);
            }
            let _ = child.wait().await;
            (-1, true)
        }
    };
    if let Some(g) = pgid {
        lock(groups).remove(&g);
    }
    let build_time = build_started.elapsed();
    let log_tail = logger.await.unwrap_or_default();
    let archive = out_dir.join("outputs.tar");
    let outputs_archive = (exit_code == 0 && !timed_out && archive.exists()).then_some(archive);
    let duration = started.elapsed();
    Ok(RunResult {
        exit_code,
        timed_out,
        duration,
        log_path,
        log_tail,
        outputs_archive,
        outputs_wrapped: false,
        container_env: Vec::new(),
        container_mounts: Vec::new(),
        overhead: duration.saturating_sub(build_time),
        placement: None,
    })
}

enum Either {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

/// The scratch root under which a local check's invented paths live.
pub fn scratch_root(work: &Path) -> PathBuf {
    work.join("root")
}
