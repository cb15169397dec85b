//! The local backend: the same entry script as a plain process in a scratch directory, for
//! machines without an engine. It isolates nothing — the build sees the host's filesystem,
//! network, hostname and user — and every report says so. Of the variations it applies what a
//! process can be given (paths, file order, umask, locale, timezone, home, environment, PATH,
//! the clock when libfaketime is installed, one CPU through taskset); hostname and user need a
//! container.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::workspace::{self, ENTRY_SCRIPT};
use super::{LogTail, RunResult};
use crate::plan::{RunSpec, STANDARD_PATH, Variation};

/// Variations a plain process cannot be given.
pub const UNSUPPORTED: [Variation; 2] = [Variation::Hostname, Variation::User];

#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct LocalError {
    pub context: String,
    #[source]
    pub source: std::io::Error,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let context = context.into();
    move |source| LocalError { context, source }
}

/// Whether libfaketime (for the `time` variation) is installed on this host.
pub fn has_faketime() -> bool {
    Path::new(crate::plan::FAKETIME_LIB).exists()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

pub struct LocalRequest<'a> {
    pub spec: &'a RunSpec,
    /// The source snapshot in this run's order (moved into the run's directory).
    pub source_tar: &'a Path,
    pub output_globs: &'a [String],
    /// This run's own directory (entry files, outputs, log).
    pub work: &'a Path,
    pub log_lines: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
}

/// Runs one build as a process group; killed past its timeout.
pub async fn run(req: LocalRequest<'_>) -> Result<RunResult, LocalError> {
    let started = Instant::now();
    let spec = req.spec;
    let repro_dir = req.work.join("repro");
    let out_dir = req.work.join("out");
    for d in [&repro_dir, &out_dir] {
        std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
    }
    for (name, text) in workspace::run_files(spec, req.output_globs) {
        let path = repro_dir.join(name);
        std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
    }
    let tar = repro_dir.join("source.tar");
    std::fs::rename(req.source_tar, &tar).map_err(io(format!("moving {}", req.source_tar.display())))?;
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
        .current_dir(req.work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(io(format!("starting {}", argv[0])))?;
    let pid = child.id();
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
            if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.wait().await;
            (-1, true)
        }
    };
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
