//! `repro fleet run|status|report`: batches of checks and rebuilds over several engines, their
//! results in a store, and the dashboard of them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand};

use super::check::VaryArgs;
use super::{Output, UserError, parse_duration};
use crate::check::CheckOptions;
use crate::engine::EngineAddress;
use crate::fleet::coordinator::{self, Batch, Event, Events};
use crate::fleet::{DbUrl, FleetError, Job, JobError, JobState, Store, StoreError, engines};

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Run a batch of jobs: project folders (a check each) and PROVENANCE=SOURCE (a rebuild),
    /// resuming what a stopped batch left.
    Run(Box<RunArgs>),
    /// Print every job in the store: its state, runs and engines, report.
    Status(StatusArgs),
    /// Write the dashboard: counts per state, a row per job, a filter by state.
    Report(ReportArgs),
}

/// Where the results are kept: shared by every fleet command.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The results store: sqlite://PATH or postgres://USER@HOST/DB (default: fleet.sqlite in
    /// repro's data folder, ~/.local/share/repro).
    #[arg(long, value_name = "URL", env = "REPRO_FLEET_DB")]
    pub db: Option<String>,
}

impl DbArgs {
    fn url(&self) -> anyhow::Result<DbUrl> {
        match &self.db {
            Some(u) => DbUrl::parse(u).map_err(store_error),
            None => Ok(DbUrl::default_sqlite()),
        }
    }

    fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        self.url()?.open().map_err(store_error)
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The jobs: a project folder (checked), or PROVENANCE=SOURCE (rebuilt from the checkout
    /// SOURCE).
    #[arg(value_name = "JOB")]
    pub jobs: Vec<String>,
    /// Read more jobs from FILE, one a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub job_file: Option<PathBuf>,
    /// An engine to run on (repeatable): unix:///path/docker.sock, tcp://host:port, ssh://user@host.
    /// With two or more, run A and run B of each job go to different engines. Default: DOCKER_HOST,
    /// else the local socket.
    #[arg(long = "engine", value_name = "URL")]
    pub engines: Vec<String>,
    /// Engines from a TOML file: `[[engine]]` tables with `url` and, for TLS, `tls` (a folder
    /// with ca.pem, cert.pem and key.pem).
    #[arg(long, value_name = "FILE")]
    pub engines_file: Option<PathBuf>,
    /// Engines that lack a builder image pull it by digest from this registry (HOST:PORT, where
    /// `repro image push` put it) instead of having it loaded from this machine's cache.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_registry)]
    pub registry: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Most jobs running at once (each runs its builds in parallel too).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs_at_once: u16,
    #[command(flatten)]
    pub varied: VaryArgs,
    /// Most extra builds culprit isolation may make per job.
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub isolate_budget: usize,
    /// Skip culprit isolation.
    #[arg(long)]
    pub no_isolate: bool,
    /// Stop a build after this long (default: the recipe's or repro.toml's).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Read build recipes from DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR", env = "REPRO_REBUILDERS")]
    pub rebuilders: Option<PathBuf>,
    /// The dependency store (default: deps/ in repro's cache).
    #[arg(long, value_name = "DIR")]
    pub deps_store: Option<PathBuf>,
    /// Sign each rebuild's verdict with this key (it stays with the coordinator; engines never
    /// see it). The attestation is kept in the store.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// The id (a URI) attestations give the rebuilder.
    #[arg(long, value_name = "URI", default_value = crate::rebuild::statements::DEFAULT_REBUILDER_ID)]
    pub rebuilder_id: String,
    /// Print a JSON line per finished job on stdout (for machines).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// One JSON object per job, a line each: job, state, runs (run and engine), report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Write the dashboard (one self-contained page) to FILE; each job's HTML report goes in
    /// FILE's folder, under jobs/.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write every job as one JSON document to FILE (or `-` for stdout).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
}

pub fn run(args: FleetArgs, out: &Output) -> anyhow::Result<i32> {
    match args.command {
        FleetCommand::Run(a) => run_batch(*a, out),
        FleetCommand::Status(a) => status(a, out),
        FleetCommand::Report(a) => report(a, out),
    }
}

fn store_error(e: StoreError) -> anyhow::Error {
    let hint = e.hint();
    UserError::from_error(e, hint).into()
}

fn job_error(e: JobError) -> anyhow::Error {
    let hint = e.hint();
    UserError::from_error(e, hint).into()
}

/// A registry as engines name it: HOST or HOST:PORT.
pub(super) fn parse_registry(s: &str) -> Result<String, String> {
    crate::image::check_registry(s).map(|()| s.trim_end_matches('/').to_owned())
}

fn engine_addresses(args: &RunArgs) -> anyhow::Result<Vec<EngineAddress>> {
    let mut addresses = Vec::new();
    for url in &args.engines {
        engines::check_url(url).map_err(|why| {
            UserError::new(
                format!("--engine {url}: {why}"),
                Some("for example --engine unix:///var/run/docker.sock"),
            )
        })?;
        addresses.push(EngineAddress {
            url: url.clone(),
            tls: None,
        });
    }
    if let Some(file) = &args.engines_file {
        addresses.extend(engines::read_config(file).map_err(|e| UserError::from_error(e, None))?);
    }
    if addresses.is_empty() {
        addresses.push(EngineAddress {
            url: crate::engine::docker_host(),
            tls: None,
        });
    }
    Ok(addresses)
}

fn run_batch(args: RunArgs, out: &Output) -> anyhow::Result<i32> {
    let recipes =
        crate::recipe::load(args.rebuilders.as_deref()).map_err(|e| UserError::from_error(e, None))?;
    let mut given = args.jobs.clone();
    if let Some(file) = &args.job_file {
        given.extend(crate::fleet::job::read_job_file(file).map_err(job_error)?);
    }
    if given.is_empty() {
        return Err(job_error(JobError::None));
    }
    let mut jobs = Vec::new();
    for g in given {
        if jobs.iter().any(|(j, _): &(String, Job)| *j == g) {
            continue;
        }
        let job = Job::parse(&g, &recipes).map_err(job_error)?;
        jobs.push((g, job));
    }
    let engines = engine_addresses(&args)?;
    let sign = match &args.key {
        Some(path) => {
            let signer = super::rebuild::load_signer(Some(path), true, "--key")?
                .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
            let rebuilder_id = args.rebuilder_id.clone();
            let sign: Arc<coordinator::Sign> = Arc::new(move |report: &crate::rebuild::RebuildReport| {
                let signing = crate::rebuild::statements::RebuildSigning {
                    key: &signer.key,
                    rebuilder_id: &rebuilder_id,
                    attestation: true,
                    bundle: false,
                    vsa_provenance_uri: None,
                    attest_failure: true,
                };
                crate::rebuild::statements::sign_rebuild(report, &signing)
                    .map(|s| s.and_then(|s| s.attestation))
                    .map_err(|e| e.to_string())
            });
            Some(sign)
        }
        None => None,
    };
    let url = args.db.url()?;
    let created = matches!(&url, DbUrl::Sqlite(p) if !p.exists());
    let store: Arc<dyn Store> = Arc::from(url.open().map_err(store_error)?);
    eprintln!(
        "repro: results in {}{}",
        store.location(),
        if created { " (created)" } else { "" }
    );
    let (runs, variations) = args.varied.plan();
    let check = CheckOptions {
        runs,
        variations,
        timeout_secs: args.timeout.map(|d| d.as_secs().max(1)),
        recipes: args.rebuilders.clone(),
        deps_store: args.deps_store.clone(),
        isolate_budget: if args.no_isolate { 0 } else { args.isolate_budget },
        ..CheckOptions::new(PathBuf::from("."))
    };
    let batch = Batch {
        jobs,
        engines,
        registry: args.registry.clone(),
        concurrency: usize::from(args.jobs_at_once),
        check,
        sign,
    };
    let printer = Arc::new(Printer {
        json: args.json,
        bar: Mutex::new(None),
        verbose: out.verbose,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(coordinator::run(
        store.clone(),
        batch,
        printer.clone(),
        super::shutdown_signal(),
    ));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    drop(printer);
    let summary = match result {
        Ok(s) => s,
        // The store keeps what finished; the same command resumes the rest.
        Err(FleetError::Interrupted) => {
            eprintln!("repro: interrupted; build containers removed; run the same command again to resume");
            return Ok(130);
        }
        Err(e) => {
            let hint = e.hint();
            return Err(UserError::from_error(e, hint).into());
        }
    };
    let counts: Vec<String> = JobState::ALL
        .iter()
        .filter_map(|s| summary.states.get(s).map(|n| format!("{n} {s}")))
        .collect();
    eprintln!("repro: batch done: {}", counts.join(", "));
    let all_reproducible = summary
        .states
        .iter()
        .all(|(s, n)| *s == JobState::Reproducible || *n == 0);
    Ok(if all_reproducible { 0 } else { 1 })
}

/// Prints the coordinator's events: the batch bar and a line per job on stderr, JSON lines on
/// stdout with `--json`.
struct Printer {
    json: bool,
    verbose: bool,
    bar: Mutex<Option<super::progress::Batch>>,
}

impl Printer {
    fn with_bar(&self, f: impl FnOnce(&super::progress::Batch)) {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = bar.as_ref() {
            f(b);
        }
    }
}

impl Events for Printer {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Engines { up, down } => {
                for e in up {
                    eprintln!(
                        "repro: engine {} (ID {}, {}, kernel {})",
                        e.url, e.id, e.os, e.kernel
                    );
                }
                for d in down {
                    eprintln!("warning: engine unreachable, left out of the batch: {d}");
                }
            }
            Event::Recovered { requeued, containers } => eprintln!(
                "repro: resumed after a stopped coordinator: {} interrupted job(s) queued again, {containers} \
                 container(s) it left removed",
                requeued.len()
            ),
            Event::Queued { total, done } => {
                if done > 0 {
                    eprintln!("repro: {done} of {total} job(s) already finished in the store: not redone");
                }
                *self.bar.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(super::progress::Batch::new(total as u64, done as u64));
            }
            Event::Started { job } => self.with_bar(|b| {
                b.message(&format!("running {job}"));
                if self.verbose {
                    b.line(&format!("repro: started {job}"));
                }
            }),
            Event::Finished {
                job,
                outcome,
                attempts,
            } => {
                let mut line = format!(
                    "{:<24} {job} ({:.1}s)",
                    outcome.state.as_str(),
                    outcome.duration_ms as f64 / 1000.0
                );
                if !outcome.culprits.is_empty() {
                    line.push_str(&format!(" culprits: {}", outcome.culprits.join(", ")));
                }
                if let Some(r) = &outcome.reason {
                    line.push_str(&format!(": {r}"));
                }
                self.with_bar(|b| b.finished(&line));
                if self.json {
                    let j = serde_json::json!({
                        "job": job,
                        "state": outcome.state,
                        "attempts": attempts,
                        "duration_ms": outcome.duration_ms,
                        "reason": outcome.reason,
                        "culprits": outcome.culprits,
                        "runs": outcome.runs,
                    });
                    println!("{j}");
                }
            }
        }
    }
}

/// One job as `fleet status --json` and the JSON export print it.
pub(super) fn job_json(r: &crate::fleet::JobRecord) -> serde_json::Value {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let o = r.outcome.as_ref();
    serde_json::json!({
        "job": r.job,
        "kind": r.kind,
        "state": r.state,
        "attempts": r.attempts,
        "reason": o.and_then(|o| o.reason.clone()),
        "duration_ms": o.map(|o| o.duration_ms),
        "timings": o.map(|o| &o.timings),
        "runs": o.map(|o| o.runs.clone()).unwrap_or_default(),
        "culprits": o.map(|o| o.culprits.clone()).unwrap_or_default(),
        "report": parse(&o.and_then(|o| o.report.clone())),
        "attestation": parse(&o.and_then(|o| o.attestation.clone())),
    })
}

fn status(args: StatusArgs, out: &Output) -> anyhow::Result<i32> {
    let store = args.db.open()?;
    let jobs = store.jobs().map_err(store_error)?;
    let mut text = String::new();
    for r in &jobs {
        if args.json {
            text.push_str(&job_json(r).to_string());
        } else {
            let runs: Vec<String> = r
                .outcome
                .iter()
                .flat_map(|o| &o.runs)
                .map(|run| format!("{}@{}", run.run, run.engine.url))
                .collect();
            text.push_str(&format!("{:<24} {}", r.state.as_str(), r.job));
            if !runs.is_empty() {
                text.push_str(&format!("  [{}]", runs.join(" ")));
            }
        }
        text.push('\n');
    }
    if !args.json && jobs.is_empty() {
        eprintln!("repro: no jobs in {}", store.location());
    }
    out.stdout(&text)?;
    Ok(0)
}

fn report(args: ReportArgs, out: &Output) -> anyhow::Result<i32> {
    if args.html.is_none() && args.markdown.is_none() && args.json.is_none() {
        return Err(UserError::new(
            "nothing to write",
            Some("add --html FILE, --markdown FILE and/or --json FILE"),
        )
        .into());
    }
    super::check_output_paths(
        [&args.html, &args.markdown]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .chain(
                args.json
                    .as_deref()
                    .filter(|j| *j != "-")
                    .map(std::path::Path::new),
            ),
    )?;
    let store = args.db.open()?;
    let jobs = store.jobs().map_err(store_error)?;
    let location = store.location();
    if let Some(path) = &args.html {
        // Each job's own report beside the dashboard, linked from its row.
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("jobs"),
            _ => PathBuf::from("jobs"),
        };
        let mut linked = std::collections::BTreeSet::new();
        for r in &jobs {
            if let Some(html) = r.outcome.as_ref().and_then(|o| o.report_html.as_deref()) {
                fs_err::create_dir_all(&dir)?;
                super::write_file(&dir.join(format!("{}.html", r.id)), html.as_bytes())?;
                linked.insert(r.id);
            }
        }
        let page = crate::report::fleet::html(&jobs, &location, &|r| {
            linked.contains(&r.id).then(|| format!("jobs/{}.html", r.id))
        });
        super::write_file(path, page.as_bytes())?;
        eprintln!(
            "repro: dashboard of {} job(s) written to {}",
            jobs.len(),
            path.display()
        );
    }
    if let Some(path) = &args.markdown {
        super::write_file(path, crate::report::fleet::markdown(&jobs, &location).as_bytes())?;
    }
    if let Some(target) = &args.json {
        let doc = serde_json::json!({
            "report": "repro-fleet",
            "schema_version": 1,
            "store": location,
            "counts": crate::report::fleet::counts(&jobs)
                .into_iter()
                .map(|(s, n)| (s.as_str().to_string(), n))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "jobs": jobs.iter().map(job_json).collect::<Vec<_>>(),
        });
        let text = format!("{doc:#}\n");
        if target == "-" {
            out.stdout(&text)?;
        } else {
            super::write_file(std::path::Path::new(target), text.as_bytes())?;
        }
    }
    Ok(0)
}
