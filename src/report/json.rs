//! The versioned JSON report (schema in `docs/schema/diff-report.v1.json`).

use serde::Serialize;

use super::{DIFF_SCHEMA_VERSION, DiffVerdict, Input, Summary};
use crate::compare::{Comparison, Node};

#[derive(Serialize)]
struct Inputs {
    a: Input,
    b: Input,
}

#[derive(Serialize)]
struct DiffReport<'a> {
    report: &'static str,
    schema_version: u32,
    repro_version: &'static str,
    verdict: DiffVerdict,
    inputs: Inputs,
    summary: Summary,
    root: Option<&'a Node>,
    excluded: &'a [String],
    errors: &'a [String],
    elapsed_ms: u64,
}

/// The JSON report of a `repro diff`, pretty-printed, with a final newline.
pub fn diff_report(c: &Comparison) -> String {
    let report = DiffReport {
        report: "repro-diff",
        schema_version: DIFF_SCHEMA_VERSION,
        repro_version: env!("CARGO_PKG_VERSION"),
        verdict: DiffVerdict::of(c),
        inputs: Inputs {
            a: Input::from(&c.a),
            b: Input::from(&c.b),
        },
        summary: Summary::of(c.root.as_ref()),
        root: c.root.as_ref(),
        excluded: &c.excluded,
        errors: &c.errors,
        elapsed_ms: c.elapsed.as_millis() as u64,
    };
    // Serialising plain data with string keys cannot fail.
    let mut s = serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
