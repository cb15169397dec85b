//! The HTML report of `repro rebuild`: both verdicts, the source, provenance and image, and
//! each published subject against what was rebuilt; then the runs as the check page shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::check::check_body;
use super::{Limits, clipped, escape, page};
use crate::attest::SignatureRecord;
use crate::rebuild::RebuildReport;

/// The HTML report of a rebuild; `signed` lists the files signed (kind, path).
pub fn rebuild(r: &RebuildReport, signed: &[(String, String)]) -> String {
    let limits = Limits::default();
    let max = limits.cell_chars;
    let (class, word) = if r.passed() {
        ("good", "PASSED")
    } else {
        ("bad", "FAILED")
    };
    let yes_no = |ok: bool| {
        if ok {
            "<span class=\"badge good\">yes</span>"
        } else {
            "<span class=\"badge bad\">NO</span>"
        }
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<header><h1>repro rebuild <span class=\"mono\">{}</span> <span class=\"verdict {class}\" id=\"verdict\">{word}</span></h1></header>\n<section id=\"rebuild\">\n<h2>Verdicts</h2>\n<table class=\"kv\">",
        clipped(&r.recorded.source.uri, max)
    );
    let _ = writeln!(
        body,
        "<tr><th>reproducible across runs</th><td>{}</td></tr>\n<tr><th>matches the published subjects</th><td>{}</td></tr>",
        yes_no(r.reproducible_across_runs),
        yes_no(r.matches_subjects)
    );
    let folder = if r.recorded.path.is_empty() {
        String::new()
    } else {
        format!(" · folder <code>{}</code>", clipped(&r.recorded.path, max))
    };
    let _ = writeln!(
        body,
        "<tr><th>source</th><td><code>{}</code>{folder} · checkout <code>{}</code></td></tr>",
        escape(&r.recorded.source.sha1),
        clipped(&r.checkout.display().to_string(), max)
    );
    let _ = writeln!(
        body,
        "<tr><th>provenance</th><td>{} · builder <code>{}</code> · sha256 <code class=\"digest\">{}</code> · {}</td></tr>",
        clipped(&r.provenance.build_type, max),
        clipped(r.provenance.builder_id.as_deref().unwrap_or("(none)"), max),
        escape(&r.provenance.file_sha256),
        match &r.provenance.signature {
            Some(SignatureRecord::Key { keyid }) => {
                format!("signature verified (keyid <code>{}</code>)", escape(keyid))
            }
            Some(SignatureRecord::Keyless { identity, issuer, .. }) => format!(
                "signature verified keylessly (<code>{}</code>, issuer <code>{}</code>)",
                escape(identity),
                escape(issuer)
            ),
            _ => "signature not checked".to_string(),
        }
    );
    let substituted = if r.image_substituted {
        format!(
            " <span class=\"badge warn\">substituted</span> for the recorded <code>{}</code>",
            clipped(&r.recorded.builder_image.uri, max)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        body,
        "<tr><th>builder image</th><td><code>{}</code> ({}){substituted}</td></tr>",
        clipped(&r.check.image.reference, max),
        escape(&r.check.image.image_id)
    );
    if !signed.is_empty() {
        let list: Vec<String> = signed
            .iter()
            .map(|(k, p)| format!("{} <code>{}</code>", escape(k), clipped(p, max)))
            .collect();
        let _ = writeln!(body, "<tr><th>signed</th><td>{}</td></tr>", list.join(" · "));
    }
    body.push_str("</table>\n<h2>Subjects</h2>\n<table>\n<tr><th>subject</th><th>rebuilt as</th><th>recorded sha256</th><th>rebuilt sha256</th><th></th></tr>\n");
    let digest = |m: &BTreeMap<String, String>| {
        m.get("sha256").map_or_else(
            || "—".to_string(),
            |d| format!("<code class=\"digest\">{}</code>", escape(d)),
        )
    };
    for s in &r.subjects {
        let _ = writeln!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            clipped(&s.name, max),
            s.artifact.as_deref().map_or_else(
                || "—".to_string(),
                |a| format!("<code>{}</code>", clipped(a, max))
            ),
            digest(&s.recorded),
            digest(&s.rebuilt),
            if s.matches {
                "<span class=\"badge good\">match</span>".to_string()
            } else {
                format!(
                    "<span class=\"badge bad\">MISMATCH</span> {}",
                    clipped(s.problem.as_deref().unwrap_or(""), max)
                )
            }
        );
    }
    body.push_str("</table>\n");
    if !r.notes.is_empty() {
        body.push_str("<h3>Notes</h3>\n<ul class=\"notes\">\n");
        for n in &r.notes {
            let _ = writeln!(body, "<li>{}</li>", clipped(n, max));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</section>\n");
    body.push_str(&check_body(&r.check, &limits, true));
    page(&format!("repro rebuild {}: {word}", r.recorded.source.uri), &body)
}
