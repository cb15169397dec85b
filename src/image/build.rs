//! Runs `mmdebstrap` for a recipe, reporting its `I:` status lines as progress.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::recipe::Recipe;
use super::{ImageError, Progress};

/// Lines of mmdebstrap's output kept for the error message when it fails.
const TAIL_LINES: usize = 30;
const MAX_LINE: usize = 400;
const MAX_PARTIAL: usize = 1 << 20;

/// Checks that mmdebstrap can run here and returns its path.
pub fn preflight(name: &str) -> Result<PathBuf, ImageError> {
    let exe = find_on_path("mmdebstrap").ok_or(ImageError::MmdebstrapMissing)?;
    if !rustix::process::geteuid().is_root() {
        return Err(ImageError::NotRoot {
            name: name.to_owned(),
        });
    }
    Ok(exe)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `mmdebstrap 1.3.5`, recorded with each tarball (another version may make other bytes).
pub async fn version(exe: &Path) -> String {
    let out = tokio::process::Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await;
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => "mmdebstrap (unknown version)".to_owned(),
    }
}

/// How long to wait, when abandoning a build, for mmdebstrap to unmount and delete its chroot.
const CLEANUP_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);

/// Owns the running mmdebstrap. Dropped before it exits (an error elsewhere, or the caller's
/// future dropped on Ctrl-C), it sends SIGINT to mmdebstrap's process group, as a terminal's
/// Ctrl-C would, and waits for it to exit: mmdebstrap then unmounts /proc, /sys and /dev from
/// its chroot under /tmp and deletes it. SIGKILL, or exiting before it finishes, would leave
/// those mounts behind.
struct Running {
    child: tokio::process::Child,
    done: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(pid) = self
            .child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, Signal::INT);
        }
        let deadline = Instant::now() + CLEANUP_WAIT;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(POLL);
        }
    }
}

/// Runs mmdebstrap for `recipe`, writing the tarball to `target` and its log beside it.
pub async fn run(
    exe: &Path,
    recipe: &Recipe,
    target: &Path,
    progress: &dyn Progress,
) -> Result<(), ImageError> {
    let command = recipe.command();
    // Its output goes to a file, not a pipe: if we go away first, a pipe would give it SIGPIPE
    // in the middle of cleaning up.
    let log_path = target.with_extension("log");
    let log = fs_err::File::create(&log_path)?;
    let child = tokio::process::Command::new(exe)
        .args(&command.args_before_target)
        .arg(target)
        .args(&command.args_after_target)
        .envs(&command.env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.into_parts().0))
        // Its own process group: a terminal's Ctrl-C reaches only us, and we stop it in order.
        .process_group(0)
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("starting {}: {e}", exe.display())))?;
    let mut running = Running { child, done: false };
    let mut reader = fs_err::File::open(&log_path)?;
    let mut lines = LogLines::default();
    let status = loop {
        tokio::select! {
            status = running.child.wait() => break status?,
            () = tokio::time::sleep(POLL) => lines.read(&mut reader, progress)?,
        }
    };
    running.done = true;
    lines.read(&mut reader, progress)?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageError::Mmdebstrap {
            status: status.to_string(),
            log_tail: Vec::from(lines.tail).join("\n"),
        })
    }
}

/// Follows mmdebstrap's log: `I:` lines become progress messages, the last lines are kept.
#[derive(Default)]
struct LogLines {
    partial: Vec<u8>,
    tail: VecDeque<String>,
}

impl LogLines {
    fn read(&mut self, file: &mut impl Read, progress: &dyn Progress) -> std::io::Result<()> {
        file.read_to_end(&mut self.partial)?;
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            // Not `str`: apt and dpkg output is not always UTF-8.
            let text: String = String::from_utf8_lossy(&line)
                .trim_end()
                .chars()
                .take(MAX_LINE)
                .collect();
            if let Some(status) = text.strip_prefix("I: ") {
                progress.message(status);
            }
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(text);
        }
        // A line that never ends (it should not happen) must not grow without bound.
        if self.partial.len() > MAX_PARTIAL {
            self.partial.clear();
        }
        Ok(())
    }
}
