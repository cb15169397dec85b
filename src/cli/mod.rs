//! The command line: parses arguments into options, dispatches to a command, and prints
//! (stdout for data and reports, stderr for people). `error:` then `hint:` on failure.
// The two places that print (house rule, enforced by the clippy lints in Cargo.toml).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod build;
pub mod check;
pub mod diff;
pub mod fleet;
pub mod image;
pub mod inspect;
pub mod keyless;
pub mod keys;
pub mod progress;
pub mod rebuild;
pub mod verify;

pub use crate::units::{parse_duration, parse_size};

/// `--disk SIZE`: a size no smaller than the least a build needs there.
fn parse_disk(s: &str) -> Result<u64, String> {
    let bytes = parse_size(s)?;
    if bytes < crate::recipe::MIN_DISK_BYTES {
        return Err(format!("{s:?} is too small: the disk limit must be at least 1M"));
    }
    Ok(bytes)
}

use std::io::Write;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code for errors (bad input, engine unreachable, …); 0 and 1 are verdicts.
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "repro",
    version,
    about = "Prove builds are reproducible: rebuild with variations, compare structurally, explain, sign.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Show everything: all differing members, whole diffs, live build logs.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to colour the text report (NO_COLOR is honoured with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a project twice (or N times) with variations, and say whether the outputs are the
    /// same bytes.
    Check(check::CheckArgs),
    /// Compare two files or directories structurally, by format, all the way down.
    Diff(diff::DiffArgs),
    /// Build a committed project once in its pinned builder image and write signed SLSA v1
    /// provenance for the outputs.
    Build(build::BuildArgs),
    /// Re-run a build recorded in SLSA provenance with variations, compare the runs with each
    /// other and with the published subjects, and sign the verdict.
    Rebuild(Box<rebuild::RebuildArgs>),
    /// Build, list, export and import the pinned builder images.
    Image(image::ImageArgs),
    /// Make a key pair for signing attestations (ECDSA P-256 by default).
    Keygen(keys::KeygenArgs),
    /// Show what a provenance or attestation records and whether repro can re-run it
    /// (verifies nothing).
    Inspect(inspect::InspectArgs),
    /// Run batches of checks and rebuilds over several engines, keep the results, and show them.
    Fleet(fleet::FleetArgs),
    /// Check an attestation's signature, its subjects and what it says (by default: repro's
    /// rebuild attestation with verdict PASSED).
    Verify(verify::VerifyArgs),
}

/// A user-facing failure: what went wrong, and what to do about it.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    /// The library error this one stands for: its causes are this one's.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl UserError {
    pub fn new(message: impl Into<String>, hint: Option<&str>) -> Self {
        UserError {
            message: message.into(),
            hint: hint.map(str::to_string),
            cause: None,
        }
    }

    /// A library error with its hint, keeping its chain of causes for `caused by:`.
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static, hint: Option<String>) -> Self {
        UserError {
            message: error.to_string(),
            hint,
            cause: Some(Box::new(error)),
        }
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The message is the cause's own: its chain starts below it.
        self.cause.as_ref().and_then(|c| c.source())
    }
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { 0 };
        }
    };
    // Comparators recurse through nested containers on rayon's threads: give them room.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build_global();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            EXIT_ERROR
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let out = Output {
        color: cli.color,
        verbose: cli.verbose,
    };
    match cli.command {
        Command::Check(args) => check::run(args, &out),
        Command::Diff(args) => diff::run(args, &out),
        Command::Build(args) => build::run(args, &out),
        Command::Rebuild(args) => rebuild::run(*args, &out),
        Command::Image(args) => image::run(args),
        Command::Keygen(args) => keys::keygen(args, &out),
        Command::Inspect(args) => inspect::run(args, &out),
        Command::Verify(args) => verify::run(args, &out),
        Command::Fleet(args) => fleet::run(args, &out),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Runs builds through `backend` on a fresh runtime: with `-v`, every build log line goes
/// live to stderr; on Ctrl-C or SIGTERM the backend stops and removes its live runs and `None`
/// is returned.
pub fn run_builds<T, F>(
    verbose: bool,
    backend: &dyn crate::runner::Backend,
    make: impl FnOnce(Option<crate::runner::LogLines>, std::sync::Arc<dyn crate::image::Progress>) -> F,
) -> anyhow::Result<Option<T>>
where
    F: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let log_lines = verbose.then(|| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        runtime.spawn(async move {
            while let Some((run, line)) = rx.recv().await {
                eprintln!("[{run}] {line}");
            }
        });
        tx
    });
    let progress = progress::for_terminal(verbose);
    let work = make(log_lines, progress);
    let result = runtime.block_on(async {
        tokio::select! {
            r = work => Some(r),
            _ = shutdown_signal() => None,
        }
    });
    if result.is_none() {
        runtime.block_on(backend.cancel_live());
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        eprintln!("repro: interrupted; build containers removed");
    }
    Ok(result)
}

/// Fails early, before any build, when an output file could not be written: its folder must
/// exist.
pub fn check_output_paths<'a>(paths: impl IntoIterator<Item = &'a std::path::Path>) -> anyhow::Result<()> {
    for path in paths {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(UserError::new(
                format!(
                    "cannot write {}: the folder {} does not exist",
                    path.display(),
                    dir.display()
                ),
                Some("create it first, or choose another path"),
            )
            .into());
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so that a failure never
/// leaves a partial file (attestations and keys must be whole or absent).
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tmp.write_all(bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Where and how commands print.
pub struct Output {
    pub color: Color,
    pub verbose: bool,
}

impl Output {
    /// How much the text report shows: everything with `-v`, a short report on a terminal, and
    /// the usual one when stdout is a pipe or a file.
    pub fn text_options(&self) -> crate::report::text::TextOptions {
        use std::io::IsTerminal as _;
        crate::report::text::TextOptions::new(self.verbose, std::io::stdout().is_terminal())
    }

    /// Writes a report to stdout, with colour only where the choice and the terminal allow.
    pub fn stdout(&self, text: &str) -> std::io::Result<()> {
        let choice = match self.color {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        };
        let mut s = anstream::AutoStream::new(std::io::stdout().lock(), choice);
        match s.write_all(text.as_bytes()).and_then(|_| s.flush()) {
            // A closed pipe (`repro diff … | head`) is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

fn report_error(e: &anyhow::Error) {
    let mut err = anstream::stderr();
    let red = anstyle::AnsiColor::Red.on_default().bold();
    let _ = writeln!(err, "{red}error:{red:#} {e}");
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "  caused by: {cause}");
    }
    if let Some(hint) = e.downcast_ref::<UserError>().and_then(|u| u.hint.as_deref()) {
        let cyan = anstyle::AnsiColor::Cyan.on_default().bold();
        let _ = writeln!(err, "{cyan}hint:{cyan:#} {hint}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
