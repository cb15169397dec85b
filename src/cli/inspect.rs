//! `repro inspect FILE`: what a provenance or attestation records and whether repro can re-run
//! it; verifies nothing. Exit 0 whenever the file is readable, 2 when it is not.

use clap::Args;

use super::{Output, UserError};
use crate::{inspect, report};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The file, or `-` for stdin: any shape `rebuild` and `verify` read.
    pub file: String,
    /// Only the statements with this subject (name, ALG:HEX or hex).
    #[arg(long, value_name = "NAME|DIGEST")]
    pub subject: Option<String>,
    /// Only the statements of this predicate type.
    #[arg(long, value_name = "URI")]
    pub predicate_type: Option<String>,
    /// Write the JSON report to FILE, or to stdout with `-` (stdout then carries only JSON).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
}

pub fn run(args: InspectArgs, out: &Output) -> anyhow::Result<i32> {
    let bytes = super::rebuild::read_input(&args.file)?;
    let inspection = inspect::inspect(&bytes, args.subject.as_deref(), args.predicate_type.as_deref())
        .map_err(|e| UserError::new(format!("{}: {e}", args.file), None))?;
    match args.json.as_deref() {
        Some("-") => out.stdout(&report::inspect::json(&inspection))?,
        Some(path) => {
            fs_err::write(path, report::inspect::json(&inspection))?;
            out.stdout(&report::inspect::text(&inspection, &args.file))?;
        }
        None => out.stdout(&report::inspect::text(&inspection, &args.file))?,
    }
    Ok(0)
}
