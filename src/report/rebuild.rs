//! Reports of `repro rebuild`: the two verdicts and the subjects first, then the runs as
//! `repro check` reports them.

use std::fmt::Write as _;

use serde::Serialize;

use super::text::{BOLD, GREEN, RED, TextOptions, YELLOW, paint};
use crate::rebuild::{MatchedBy, REBUILD_SCHEMA_VERSION, RebuildReport};

#[derive(Serialize)]
struct Json<'a> {
    report: &'static str,
    repro_version: &'static str,
    passed: bool,
    /// Files repro signed, by kind (`attestation`, `bundle`, `vsa`); empty when nothing was.
    signed: &'a [(String, String)],
    #[serde(flatten)]
    rebuild: &'a RebuildReport,
}

/// The JSON report (`docs/schema/rebuild-report.v1.json`).
pub fn json(r: &RebuildReport, signed: &[(String, String)]) -> String {
    debug_assert_eq!(r.schema_version, REBUILD_SCHEMA_VERSION);
    let j = Json {
        report: "repro-rebuild",
        repro_version: env!("CARGO_PKG_VERSION"),
        passed: r.passed(),
        signed,
        rebuild: r,
    };
    // The runs are reported exactly as `repro check --json` reports them (same schema).
    let value = serde_json::to_value(&j).and_then(|mut v| {
        v["check"] = serde_json::from_str(&super::check::json(&r.check))?;
        Ok(v)
    });
    let mut s = value
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

fn verdict_word(ok: bool, yes: &str, no: &str) -> String {
    if ok { paint(GREEN, yes) } else { paint(RED, no) }
}

pub fn text(r: &RebuildReport, signed: &[(String, String)], opts: TextOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {}",
        paint(BOLD, "repro rebuild"),
        r.recorded.source.uri,
        verdict_word(r.passed(), "PASSED", "FAILED")
    );
    let _ = writeln!(
        out,
        "  reproducible across runs:  {}",
        verdict_word(r.reproducible_across_runs, "yes", "NO")
    );
    let _ = writeln!(
        out,
        "  matches published subjects: {}",
        verdict_word(r.matches_subjects, "yes", "NO")
    );
    let _ = writeln!(
        out,
        "  source: commit {}{} · checkout {}",
        r.recorded.source.sha1,
        if r.recorded.path.is_empty() {
            String::new()
        } else {
            format!(" folder {}", r.recorded.path)
        },
        r.checkout.display()
    );
    let _ = writeln!(
        out,
        "  provenance: {} · {} · sha256 {}{}",
        r.provenance.build_type,
        r.provenance.builder_id.as_deref().unwrap_or("(no builder id)"),
        &r.provenance.file_sha256,
        match &r.provenance.signature_keyid {
            Some(k) => format!(" · signature verified (keyid {k})"),
            None => " · signature not checked".to_string(),
        }
    );
    if r.image_substituted {
        let _ = writeln!(
            out,
            "  {} the recorded image {} was replaced by {} ({})",
            paint(YELLOW, "image substituted:"),
            r.recorded.builder_image.uri,
            r.check.image.reference,
            r.check.image.image_id
        );
    }
    let _ = writeln!(out, "\n{}", paint(BOLD, "subjects"));
    for s in &r.subjects {
        let mark = verdict_word(s.matches, "match", "MISMATCH");
        let how = match s.matched_by {
            MatchedBy::Path => String::new(),
            MatchedBy::FileName => format!(" (as {})", s.artifact.as_deref().unwrap_or("?")),
            MatchedBy::Digest => format!(
                " (by digest: rebuilt as {})",
                s.artifact.as_deref().unwrap_or("?")
            ),
            MatchedBy::Unmatched => String::new(),
        };
        let _ = writeln!(out, "  {mark} {}{how}", s.name);
        if let Some(p) = &s.problem {
            let _ = writeln!(out, "        {p}");
        }
    }
    if r.subjects.is_empty() {
        let _ = writeln!(out, "  (the provenance has no subjects)");
    }
    for n in &r.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    if !signed.is_empty() {
        let _ = writeln!(out, "\n{}", paint(BOLD, "signed"));
        for (kind, path) in signed {
            let _ = writeln!(out, "  {kind}: {path}");
        }
    }
    let _ = writeln!(out);
    out.push_str(&super::check::text(&r.check, opts));
    out
}
