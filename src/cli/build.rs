//! `repro build [DIR] --key K`: one build of a committed project in its pinned builder image, as
//! `repro check` runs its control build, and signed SLSA v1 provenance for the outputs. The
//! provenance records everything `repro rebuild` needs to run the build again.

use std::path::PathBuf;

use clap::Args;

use super::rebuild::{RunArgs, load_signer, rebuild_error};
use super::{Output, UserError};
use crate::check::CheckOptions;
use crate::rebuild::{self, statements};
use crate::runner::{self, BackendKind};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project (a folder of a git checkout; its repro.toml, or a recipe chosen from what
    /// it contains).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The private key that signs the provenance (PKCS#8 PEM, or cosign's encrypted key with
    /// its password in COSIGN_PASSWORD).
    #[arg(long, value_name = "KEY", required = true)]
    pub key: PathBuf,
    /// Write the signed provenance (DSSE envelope) here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Copy the built outputs into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Builder image: one of ours (default, rust, go, node) or name@sha256:… (default: the recipe's).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// SOURCE_DATE_EPOCH (default: the last commit time of the project's folder).
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,
    /// The builder id (a URI) the provenance records: yours.
    #[arg(long, value_name = "URI", default_value = statements::DEFAULT_BUILDER_ID)]
    pub builder_id: String,
    /// Build the working tree even when it differs from its commit (modified, untracked,
    /// skip-worktree or assume-unchanged files). The provenance then records the differing files
    /// (externalParameters.uncommittedChanges), and `repro rebuild` refuses it.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Give the build the repository's history as `.git` (recorded, so rebuilds do too; the
    /// project must be the repository's root).
    #[arg(long)]
    pub with_git: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: BuildArgs, out: &Output) -> anyhow::Result<i32> {
    let Some(signer) = load_signer(Some(&args.key), true, "")? else {
        return Err(UserError::new("--key is required", None).into());
    };
    super::check_output_paths(args.output.as_deref())?;
    let opts = CheckOptions {
        source_date_epoch: args.source_date_epoch,
        image: args.image.clone(),
        timeout_secs: args.run.timeout.map(|d| d.as_secs().max(1)),
        disk_bytes: args.run.disk,
        keep: args.run.keep.clone(),
        recipes: args.run.rebuilders.clone(),
        deps_store: args.run.deps_store.clone(),
        with_git: args.with_git,
        // One build, the control: nothing varies, nothing is isolated.
        variations: std::collections::BTreeSet::new(),
        isolate_budget: 0,
        ..CheckOptions::new(args.dir.clone())
    };
    let (builder_id, allow_dirty) = (args.builder_id.clone(), args.allow_dirty);
    let backend = runner::backend(BackendKind::Docker);
    let result = super::run_builds(out.verbose, backend.as_ref(), |log_lines, progress| {
        let mut opts = opts;
        opts.log_lines = log_lines;
        rebuild::build(
            opts,
            args.out_dir.clone(),
            builder_id,
            allow_dirty,
            backend.clone(),
            progress,
        )
    })?;
    let record = match result {
        None => return Ok(130),
        Some(Err(e)) => return Err(rebuild_error(e)),
        Some(Ok(r)) => r,
    };
    let envelope = statements::sign_provenance(&record, &signer.key)
        .map_err(|e| UserError::new(format!("signing with {}: {e}", signer.path.display()), None))?;
    let json = envelope.to_json();
    match &args.output {
        Some(path) => super::write_file(path, json.as_bytes())?,
        None => out.stdout(&format!("{json}\n"))?,
    }
    eprintln!(
        "repro build: {} outputs of {} (commit {}{}) in {}; provenance {}",
        record.subjects.len(),
        record.source_uri,
        record.commit,
        if record.path.is_empty() {
            String::new()
        } else {
            format!(", folder {}", record.path)
        },
        record.image_uri,
        args.output
            .as_ref()
            .map_or_else(|| "on stdout".to_string(), |p| format!("in {}", p.display()))
    );
    for (path, sha256) in &record.subjects {
        eprintln!("  {sha256}  {path}");
    }
    for note in &record.report.notes {
        eprintln!("  note: {note}");
    }
    Ok(0)
}
