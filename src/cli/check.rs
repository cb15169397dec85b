//! `repro check [DIR]`: build twice (or N times) with variations and say whether the outputs
//! are the same bytes.

use std::path::PathBuf;

use clap::Args;

use super::{Output, UserError, parse_disk, parse_duration};
use crate::check::{self, CheckError, CheckOptions, Verdict};
use crate::compare;
use crate::plan::{Variation, select};
use crate::report;
use crate::runner::{self, BackendKind};

/// How many runs and what varies between them: shared by `repro check` and `repro rebuild`.
#[derive(Debug, Args)]
pub struct VaryArgs {
    /// How many builds: A (control), B (varied), then more varied runs with fresh values.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..=16))]
    pub runs: u16,
    /// Vary only these (comma-separated): time, build-path, file-order, hostname, user, umask,
    /// locale, timezone, home, num-cpus, environment, exec-path.
    #[arg(long, value_delimiter = ',', value_name = "VARIATIONS")]
    pub vary: Vec<Variation>,
    /// Do not vary these (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "VARIATIONS")]
    pub no_vary: Vec<Variation>,
}

impl VaryArgs {
    /// The run count and the set of variations on in the varied runs.
    pub fn plan(&self) -> (usize, std::collections::BTreeSet<Variation>) {
        (usize::from(self.runs), select(&self.vary, &self.no_vary))
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The project to check (its repro.toml, or a recipe chosen from what it contains).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub varied: VaryArgs,
    /// SOURCE_DATE_EPOCH for every run (default: the last commit time, else the newest mtime).
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,
    /// Builder image: one of ours (default, rust, go, node) or name@sha256:… (default: the recipe's).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Accept an image given by tag only (the report then says it was unpinned).
    #[arg(long)]
    pub allow_unpinned: bool,
    /// Allow the network during the build (recorded as non-hermetic).
    #[arg(long)]
    pub network: bool,
    /// Give the build the repository's history as `.git`, for `git describe` or setuptools-scm
    /// (the project must be the repository's root; `git = true` in repro.toml does the same).
    #[arg(long)]
    pub with_git: bool,
    /// Most extra builds culprit isolation may make (each a probe with some variations on).
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub isolate_budget: usize,
    /// Skip culprit isolation (only the evidence in the differences names causes).
    #[arg(long)]
    pub no_isolate: bool,
    /// Most builds at once, isolation's probes included (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Run the builds as plain processes on this machine, without containers (for machines
    /// with no engine). UNISOLATED: every report says so; hostname and user cannot vary.
    #[arg(long)]
    pub local: bool,
    /// Stop a build after this long (e.g. 30m; default: the recipe's or repro.toml's).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Most a build may write outside its build directory: /tmp, /var/tmp, its home and the
    /// outputs, each a tmpfs of this size (default: repro.toml's `disk`, else 1G).
    #[arg(long, value_name = "SIZE", value_parser = parse_disk)]
    pub disk: Option<u64>,
    /// Keep each run's outputs, log and spec in DIR/<run>/.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Read build recipes from DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR", env = "REPRO_REBUILDERS")]
    pub rebuilders: Option<PathBuf>,
    /// The dependency store: fetched dependencies, by content (default: deps/ in repro's cache).
    #[arg(long, value_name = "DIR")]
    pub deps_store: Option<PathBuf>,
    /// Write the JSON report to FILE, or to stdout with `-` (stdout then carries only JSON).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Write a Markdown report (for CI job summaries) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE: the verdict, culprits and findings first, then
    /// the difference trees.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Leave differences in outputs matching GLOB out (repeatable; also inside archives).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
}

pub fn run(args: CheckArgs, out: &Output) -> anyhow::Result<i32> {
    let options = CheckOptions {
        dir: args.dir.clone(),
        runs: args.varied.plan().0,
        variations: args.varied.plan().1,
        source_date_epoch: args.source_date_epoch,
        image: args.image.clone(),
        allow_unpinned: args.allow_unpinned,
        network: args.network,
        timeout_secs: args.timeout.map(|d| d.as_secs().max(1)),
        disk_bytes: args.disk,
        keep: args.keep.clone(),
        recipes: args.rebuilders.clone(),
        deps_store: args.deps_store.clone(),
        compare: compare::Options {
            exclude: args.exclude.clone(),
            ..compare::Options::default()
        },
        isolate_budget: if args.no_isolate { 0 } else { args.isolate_budget },
        jobs: args.jobs.map_or(0, usize::from),
        with_git: args.with_git,
        ..CheckOptions::new(args.dir.clone())
    };
    let backend = runner::backend(if args.local {
        BackendKind::Local
    } else {
        BackendKind::Docker
    });
    let result = super::run_builds(out.verbose, backend.as_ref(), |log_lines, progress| {
        let mut options = options;
        options.log_lines = log_lines;
        check::check(options, backend.clone(), progress)
    })?;
    let report = match result {
        // Ctrl-C or SIGTERM: the containers are removed.
        None => return Ok(130),
        Some(Err(e)) => return Err(check_error(e)),
        Some(Ok(r)) => r,
    };
    let json_only = args.json.as_deref() == Some("-");
    if let Some(target) = &args.json {
        let j = report::check::json(&report);
        if json_only {
            out.stdout(&j)?;
        } else {
            fs_err::write(target, j)?;
        }
    }
    if let Some(path) = &args.markdown {
        fs_err::write(path, report::check::markdown(&report))?;
    }
    if let Some(path) = &args.html {
        fs_err::write(path, report::html::check(&report))?;
    }
    if !json_only {
        out.stdout(&report::check::text(&report, out.text_options()))?;
    }
    Ok(match report.verdict {
        Verdict::Reproducible => 0,
        Verdict::NotReproducible => 1,
    })
}

fn check_error(e: CheckError) -> anyhow::Error {
    let hint = e.hint();
    UserError::from_error(e, hint).into()
}
