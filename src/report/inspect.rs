//! The `repro inspect` report: what a file records, as text for people and JSON
//! (`docs/schema/inspect-report.v1.json`).

use std::fmt::Write as _;

use crate::compare::members::shown_name;
use crate::inspect::{Dependency, Inspection, StatementInfo};

/// The JSON report.
pub fn json(inspection: &Inspection) -> String {
    let mut s = serde_json::to_string_pretty(inspection).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// The text report: each statement, then a reminder that nothing was verified.
pub fn text(inspection: &Inspection, file: &str) -> String {
    let mut out = String::new();
    let count = inspection.statements.len();
    match count {
        0 => {
            let _ = writeln!(out, "{file}: no statement matches the selection");
        }
        1 => {
            let _ = writeln!(out, "{file}: one statement");
        }
        n => {
            let _ = writeln!(
                out,
                "{file}: {n} statements (pick one for rebuild or verify with --subject NAME|DIGEST, or \
                 --predicate-type URI here)"
            );
        }
    }
    for (i, statement) in inspection.statements.iter().enumerate() {
        if count > 1 {
            let _ = writeln!(out, "\nstatement {} of {count}", i + 1);
        }
        describe(&mut out, statement);
    }
    let _ = writeln!(
        out,
        "\nnothing was verified: signatures, identities and digests above are what the file claims \
         (check them with `repro verify`)"
    );
    out
}

fn describe(out: &mut String, s: &StatementInfo) {
    // Everything shown comes from the file: control characters are escaped.
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "  {name:<13} {}", shown_name(value));
    };
    let at = if s.location.is_empty() {
        String::new()
    } else {
        format!(" at {}", s.location)
    };
    let line = if s.line > 1 {
        format!(" (line {})", s.line)
    } else {
        String::new()
    };
    field(out, "wrapper", &format!("{}{at}{line}", s.wrapper.description));
    if s.signatures.is_empty() {
        field(out, "signatures", "none");
    }
    for sig in &s.signatures {
        let mut parts = Vec::new();
        if let Some(keyid) = &sig.keyid {
            parts.push(format!("keyid {keyid}"));
        }
        if let Some(hint) = &sig.public_key_hint {
            parts.push(format!("public key hint {hint}"));
        }
        if !sig.identities.is_empty() {
            parts.push(format!("certificate for {}", sig.identities.join(", ")));
        }
        if let Some(issuer) = &sig.issuer {
            parts.push(format!("issuer {issuer}"));
        }
        if let Some(alg) = &sig.key_algorithm {
            parts.push(alg.clone());
        }
        if parts.is_empty() {
            parts.push("no keyid, no certificate".into());
        }
        field(out, "signature", &parts.join(" · "));
    }
    if s.transparency_log_entries > 0 {
        field(out, "tlog entries", &s.transparency_log_entries.to_string());
    }
    field(
        out,
        "statement",
        s.statement_type.as_deref().unwrap_or("(no _type)"),
    );
    field(out, "predicate", s.predicate_type.as_deref().unwrap_or("(none)"));
    if let Some(build_type) = &s.build_type {
        field(out, "build type", build_type);
    }
    if let Some(builder) = &s.builder_id {
        field(out, "builder", builder);
    }
    if let Some(source) = &s.source {
        let mut parts = vec![
            source
                .repository
                .clone()
                .unwrap_or_else(|| "(no repository)".into()),
        ];
        if let Some(commit) = &source.commit {
            parts.push(format!("commit {commit}"));
        }
        if let Some(path) = &source.path {
            parts.push(format!("path {path}"));
        }
        field(out, "source", &parts.join(" · "));
    }
    if let Some(image) = &s.image {
        field(out, "image", image);
    }
    for command in &s.commands {
        field(out, "command", &command.join(" "));
    }
    list(out, "dependencies", &s.resolved_dependencies);
    list(out, "subjects", &s.subjects);
    let verdict = if s.rerun.possible { "yes" } else { "no" };
    field(out, "re-runnable", &format!("{verdict}: {}", s.rerun.why));
}

fn list(out: &mut String, name: &str, items: &[Dependency]) {
    if items.is_empty() {
        let _ = writeln!(out, "  {name:<13} none");
        return;
    }
    let _ = writeln!(out, "  {name:<13} {}", items.len());
    for d in items {
        let digests: Vec<String> = d.digest.iter().map(|(a, v)| format!("{a}:{v}")).collect();
        let name = if d.name.is_empty() { "(unnamed)" } else { &d.name };
        let _ = writeln!(
            out,
            "    {}",
            shown_name(&format!("{name} {}", digests.join(" ")))
        );
    }
}
