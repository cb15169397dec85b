//! Reports of `repro rebuild`: the two verdicts and the subjects first, then the runs as
//! `repro check` reports them.

use std::fmt::Write as _;

use serde::Serialize;

use super::text::{BOLD, GREEN, RED, TextOptions, YELLOW, paint};
use crate::attest::SignatureRecord;
use crate::escape::shown;
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

/// The JSON report (`docs/schema/rebuild-report.v2.json`).
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
        v["provenance"]["signature"] =
            serde_json::to_value(crate::rebuild::statements::provenance_signature(r))?;
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
            format!(" folder {}", shown(&r.recorded.path))
        },
        r.checkout.display()
    );
    let _ = writeln!(
        out,
        "  provenance: {} · {} · sha256 {}{}",
        r.provenance.build_type,
        r.provenance.builder_id.as_deref().unwrap_or("(no builder id)"),
        &r.provenance.file_sha256,
        match &r.provenance.signature {
            Some(SignatureRecord::Key { keyid }) => format!(" · signature verified (keyid {keyid})"),
            Some(SignatureRecord::Keyless { identity, issuer, .. }) => format!(
                " · signature verified keylessly ({}, issuer {})",
                crate::compare::members::shown_name(identity),
                crate::compare::members::shown_name(issuer)
            ),
            _ => " · signature not checked".to_string(),
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
        // Subject names come from the provenance: shown escaped, like every name.
        let _ = writeln!(out, "  {mark} {}{}", shown(&s.name), shown(&how));
        if let Some(p) = &s.problem {
            let _ = writeln!(out, "        {}", shown(p));
        }
    }
    if r.subjects.is_empty() {
        let _ = writeln!(out, "  (the provenance has no subjects)");
    }
    for n in &r.notes {
        let _ = writeln!(out, "  note: {}", shown(n));
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

/// A table cell: pipes escaped, one line.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A Markdown report for CI job summaries: both verdicts and the subjects, then the runs as
/// `repro check --markdown` reports them.
pub fn markdown(r: &RebuildReport, signed: &[(String, String)]) -> String {
    let yes_no = |ok: bool| if ok { "✅ yes" } else { "❌ **no**" };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## repro rebuild `{}`: {}\n",
        cell(&r.recorded.source.uri),
        if r.passed() { "✅ PASSED" } else { "❌ FAILED" }
    );
    let _ = writeln!(out, "| verdict | |\n|---|---|");
    let _ = writeln!(
        out,
        "| reproducible across runs | {} |",
        yes_no(r.reproducible_across_runs)
    );
    let _ = writeln!(
        out,
        "| matches published subjects | {} |",
        yes_no(r.matches_subjects)
    );
    let _ = writeln!(out, "| source commit | `{}` |", r.recorded.source.sha1);
    let _ = writeln!(
        out,
        "| builder image | `{}`{} |",
        cell(&r.check.image.reference),
        if r.image_substituted {
            format!(" (substituted for `{}`)", cell(&r.recorded.builder_image.uri))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "| provenance signature | {} |\n",
        match &r.provenance.signature {
            Some(SignatureRecord::Key { keyid }) => format!("verified (keyid `{keyid}`)"),
            Some(SignatureRecord::Keyless { identity, issuer, .. }) => format!(
                "verified keylessly (`{}`, issuer `{}`)",
                cell(identity),
                cell(issuer)
            ),
            _ => "not checked".into(),
        }
    );
    let _ = writeln!(
        out,
        "### Subjects\n\n| subject | recorded sha256 | rebuilt sha256 | |\n|---|---|---|---|"
    );
    for s in &r.subjects {
        let digest = |m: &std::collections::BTreeMap<String, String>| {
            m.get("sha256")
                .map_or_else(|| "—".to_string(), |d| format!("`{d}`"))
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            cell(&s.name),
            digest(&s.recorded),
            digest(&s.rebuilt),
            if s.matches {
                "✅".to_string()
            } else {
                format!("❌ {}", cell(s.problem.as_deref().unwrap_or("mismatch")))
            }
        );
    }
    if !signed.is_empty() {
        let list: Vec<String> = signed.iter().map(|(k, p)| format!("{k} `{}`", cell(p))).collect();
        let _ = writeln!(out, "\nSigned: {}", list.join(", "));
    }
    for n in &r.notes {
        let _ = writeln!(out, "\n> {}", cell(n));
    }
    let _ = writeln!(out);
    out.push_str(&super::check::markdown(&r.check));
    out
}
