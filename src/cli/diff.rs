//! `repro diff A B`: structural comparison of two files or directories.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Output, UserError, parse_duration, parse_size};
use crate::compare::{Engine, InputError, Options, Registry};
use crate::report::{self, DiffVerdict};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First input (file or directory).
    pub a: PathBuf,
    /// Second input (file or directory).
    pub b: PathBuf,
    /// Write the JSON report to FILE, or to stdout with `-` (stdout then carries only JSON).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Write a Markdown report (for CI job summaries) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE: the verdict and counts first, then the
    /// difference tree with side-by-side diffs.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Leave out paths matching GLOB (repeatable); matched against member paths inside
    /// archives and directories too, e.g. `**/*.pyc` or `META-INF/*.SF`.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// How many containers deep to recurse (a tar in a gzip in a zip is 3).
    #[arg(long, value_name = "N", default_value_t = Options::default().max_depth)]
    pub max_depth: usize,
    /// Largest archive member held in memory for a structural comparison.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "512M")]
    pub max_member_size: u64,
    /// Most bytes decoded from each input, everything inside it together (nested archives,
    /// compressed streams, sparse files): guards against bombs.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16G")]
    pub max_expanded_size: u64,
    /// Wall-clock budget; past it, remaining members are compared by bytes only.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub time_budget: std::time::Duration,
    /// Most lines of one text diff kept in the report.
    #[arg(long, value_name = "N", default_value_t = Options::default().max_diff_lines)]
    pub max_diff_lines: usize,
}

pub fn run(args: DiffArgs, out: &Output) -> anyhow::Result<i32> {
    let json_to_stdout = args.json.as_deref() == Some("-");
    let options = Options {
        max_depth: args.max_depth,
        max_member_bytes: args.max_member_size,
        max_expanded_bytes: args.max_expanded_size,
        time_budget: Some(args.time_budget),
        max_diff_lines: args.max_diff_lines,
        // Identical inputs need a digest only where a report shows it.
        digests: args.json.is_some() || args.markdown.is_some() || args.html.is_some() || out.verbose,
        exclude: args.exclude.clone(),
        ..Options::default()
    };
    let engine = Engine::new(options, Registry::default()).map_err(input_error)?;
    let comparison = engine.compare_paths(&args.a, &args.b).map_err(input_error)?;
    if let Some(target) = &args.json {
        let json = report::json::diff_report(&comparison);
        if json_to_stdout {
            out.stdout(&json)?;
        } else {
            fs_err::write(target, json).context("writing the JSON report")?;
        }
    }
    if let Some(path) = &args.markdown {
        fs_err::write(path, report::markdown::diff_report(&comparison))
            .context("writing the Markdown report")?;
    }
    if let Some(path) = &args.html {
        fs_err::write(path, report::html::diff(&comparison)).context("writing the HTML report")?;
    }
    if !json_to_stdout {
        let text = report::text::diff_report(&comparison, out.text_options());
        out.stdout(&text)?;
    }
    Ok(DiffVerdict::of(&comparison).exit_code())
}

fn input_error(e: InputError) -> anyhow::Error {
    let hint = match &e {
        InputError::Unreadable { .. } => "check the path: repro diff takes two existing files or directories",
        InputError::BadGlob { .. } => "globs use *, ** and ?, e.g. --exclude '**/*.pyc'",
    };
    UserError::new(e.to_string(), Some(hint)).into()
}
