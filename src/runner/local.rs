//! The local backend: the same entry script as a plain process in a scratch directory, for
//! machines without an engine. It isolates nothing — the build sees the host's filesystem,
//! network, hostname and user — and every report says so. Of the variations it applies what a
//! process can be given (paths, file order, umask, locale, timezone, home, environment, PATH,
//! the clock when libfaketime is installed, one CPU through taskset); hostname and user need a
//! container.

use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::workspace::{self, ENTRY_SCRIPT};
use super::{Backend, ImageInfo, LogTail, RunError, RunRequest, RunResult};
use crate::image::Progress;
use crate::plan::{FAKETIME_LIB, Plan, RunSpec, STANDARD_PATH, Variation};

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

/// Runs one build as a process group; killed past its timeout. Every path the run writes
/// is inside the check's scratch folder, or the run is refused.
async fn run(req: RunRequest, groups: &Mutex<HashSet<i32>>) -> Result<RunResult, RunError> {
    let started = Instant::now();
    let spec = &req.spec;
    if let Some(m) = req.mounts.first() {
        return Err(RunError::Unsupported {
            backend: "local",
            what: format!("mount {} at {}", m.host.display(), m.target),
        });
    }
    // The run's folder is `<scratch>/run-LABEL`; the plan's paths are under `<scratch>/root`.
    let root = req
        .work
        .parent()
        .map(scratch_root)
        .ok_or_else(|| confined("run", &req.work, &req.work))?;
    std::fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
    confine_run(spec, &req.output_globs, &root)?;
    let _cleanup = RemoveOnDrop(
        std::iter::once(&spec.build_path)
            .chain([&spec.home])
            .map(PathBuf::from)
            .collect(),
    );
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
    let entry = repro_dir.join("entry.sh").display().to_string();
    argv.extend(["sh".into(), entry.clone(), "build".into()]);
    argv.extend(spec.command.iter().cloned());
    debug_assert!(!ENTRY_SCRIPT.is_empty());
    let command = |argv: &[String]| {
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
        cmd
    };
    let mut cmd = command(&argv);
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
    let (mut exit_code, mut timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
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
    // The entry script's own timeout (coreutils) may stop the build a moment before ours.
    if matches!(exit_code, 124 | 137) && build_time >= timeout {
        timed_out = true;
    }
    let mut log_tail = logger.await.unwrap_or_default();
    let archive = out_dir.join("outputs.tar");
    let mut outputs_archive = None;
    if exit_code == 0 && !timed_out {
        let file = std::fs::File::create(&archive).map_err(io(format!("creating {}", archive.display())))?;
        let status = command(&["sh".into(), entry, "outputs".into()])
            .stdout(Stdio::from(file))
            .stderr(Stdio::inherit())
            .status()
            .await
            .map_err(io("collecting the outputs"))?;
        if status.success() {
            outputs_archive = Some(archive);
        } else {
            log_tail.push(format!("repro: collecting the outputs failed ({status})"));
            exit_code = 125;
        }
    }
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
        filled: Vec::new(),
        placement: None,
    })
}

/// Removes what a run made in the scratch folder when it ends, however it ends.
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn confined(what: &str, path: &Path, root: &Path) -> RunError {
    RunError::Confined {
        what: what.to_string(),
        path: path.display().to_string(),
        root: root.display().to_string(),
    }
}

/// Refuses a run whose build folder, home, PATH folders or output globs leave `root` (the
/// plan was made from a provenance: validation upstream is not this backend's only guard).
fn confine_run(spec: &RunSpec, globs: &[String], root: &Path) -> Result<(), RunError> {
    let root = std::fs::canonicalize(root).map_err(io(format!("opening {}", root.display())))?;
    let paths = [("build", &spec.build_path), ("make the home folder", &spec.home)]
        .into_iter()
        .chain(spec.extra_path_dirs.iter().map(|d| ("make a PATH folder", d)));
    for (what, p) in paths {
        if confine(&root, Path::new(p)).is_none() {
            return Err(confined(what, Path::new(p), &root));
        }
    }
    for g in globs {
        let p = Path::new(g);
        if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(confined("collect outputs", p, &root));
        }
    }
    Ok(())
}

/// `path` with `.` and `..` resolved, and symlinks in the part of it that exists followed,
/// when that stays inside `root` (canonical); `None` otherwise.
pub fn confine(root: &Path, path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut lexical = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::Normal(n) => lexical.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if !lexical.starts_with(root) {
        return None;
    }
    // The deepest part that exists, as the filesystem resolves it (a symlink planted there
    // could point anywhere).
    let mut existing = lexical.as_path();
    while std::fs::symlink_metadata(existing).is_err() {
        existing = existing.parent()?;
    }
    let real = std::fs::canonicalize(existing).ok()?;
    real.starts_with(root).then_some(lexical)
}

enum Either {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

/// The scratch root under which a local check's invented paths live.
pub fn scratch_root(work: &Path) -> PathBuf {
    work.join("root")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(control_path: Option<&str>, root: &Path) -> Plan {
        let mut build = crate::recipe::parse_project(
            "t",
            "[build]\ncommand=[\"sh\",\"-c\",\"mkdir -p out; echo hi > out/x\"]\noutputs=[\"out/*\"]\n",
        )
        .unwrap();
        build.control_path = control_path.map(str::to_string);
        Plan::new(build, 1, 2, crate::plan::select(&[], &[]), 2).with_prefix(&root.display().to_string())
    }

    fn request(spec: RunSpec, work: PathBuf, source_tar: PathBuf, p: &Plan) -> RunRequest {
        RunRequest {
            spec,
            image: String::new(),
            source_tar,
            output_globs: p.build.outputs.clone(),
            mounts: Vec::new(),
            check_id: "t".into(),
            work,
            log_lines: None,
            labels: Default::default(),
        }
    }

    #[test]
    fn confine_resolves_dots_and_symlinks_inside_the_root_only() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap().join("root");
        std::fs::create_dir_all(root.join("build")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        let inside = |p: &str| confine(&root, &root.join(p));
        assert_eq!(inside("build/a/../b"), Some(root.join("build/b")));
        assert_eq!(inside("not/yet/made"), Some(root.join("not/yet/made")));
        assert_eq!(inside("../root/build"), Some(root.join("build")));
        assert_eq!(inside("build/../../escape"), None);
        assert_eq!(inside("../../../../../../../etc"), None);
        assert_eq!(inside("link/sub"), None, "a symlink out of the root");
        assert_eq!(confine(&root, Path::new("relative/path")), None);
        assert_eq!(confine(&root, Path::new("/etc")), None);
    }

    #[test]
    fn runs_leaving_the_scratch_folder_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let escape = tempfile::tempdir().unwrap();
        let control = format!("/../../../../../../../..{}", escape.path().display());
        let p = plan(Some(&control), &root);
        let e = confine_run(&p.runs[0], &[], &root).unwrap_err().to_string();
        assert!(
            e.contains("refuses to build") && e.contains("scratch folder"),
            "{e}"
        );
        let ok = plan(None, &root);
        confine_run(&ok.runs[0], &["out/**".into()], &root).unwrap();
        for glob in ["../secret", "/etc/passwd", "out/../../x"] {
            let e = confine_run(&ok.runs[0], &[glob.into()], &root)
                .unwrap_err()
                .to_string();
            assert!(e.contains("collect outputs"), "{glob}: {e}");
        }
        let mut home = ok.runs[1].clone();
        home.home = "/root/.ssh".into();
        assert!(confine_run(&home, &[], &root).is_err());
    }

    #[tokio::test]
    async fn an_escaping_control_path_builds_nothing_outside() {
        let scratch = tempfile::tempdir().unwrap();
        let work = scratch.path().join("run-A");
        std::fs::create_dir_all(&work).unwrap();
        let escape = tempfile::tempdir().unwrap();
        let target = escape.path().join("victim");
        let control = format!("/../../../../../../../..{}", target.display());
        let backend = LocalBackend::new();
        let p = backend.fit_plan(
            plan(Some(&control), &scratch_root(scratch.path())),
            scratch.path(),
        );
        let tar = work.join("source.tar");
        std::fs::write(&tar, b"").unwrap();
        let r = backend.run(request(p.runs[0].clone(), work, tar, &p)).await;
        assert!(matches!(r, Err(RunError::Confined { .. })), "{r:?}");
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(escape.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_run_inside_the_scratch_folder_builds_and_cleans_up() {
        let scratch = tempfile::tempdir().unwrap();
        let work = scratch.path().join("run-A");
        std::fs::create_dir_all(&work).unwrap();
        let backend = LocalBackend::new();
        let p = backend.fit_plan(plan(None, &scratch_root(scratch.path())), scratch.path());
        let tar = work.join("source.tar");
        tar::Builder::new(std::fs::File::create(&tar).unwrap())
            .finish()
            .unwrap();
        let spec = p.runs[0].clone();
        let r = backend.run(request(spec.clone(), work, tar, &p)).await.unwrap();
        assert!(r.succeeded(), "{:?}", r.log_tail);
        assert!(r.outputs_archive.is_some());
        assert!(!Path::new(&spec.build_path).exists() && !Path::new(&spec.home).exists());
    }
}
