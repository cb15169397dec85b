//! The HTML report of `repro check`: verdict, setup, culprits and findings first, then the
//! runs, the artifacts, and each differing artifact's difference trees.

use std::fmt::Write as _;

use super::{Budget, Limits, capped_note, clipped, escape, excluded_list, page, tree};
use crate::check::{CheckReport, Verdict};
use crate::compare::Sides;
use crate::units::unix_time;

/// Findings listed before the rest is counted.
const MAX_FINDINGS: usize = 500;
/// Artifacts listed in the artifacts table.
const MAX_ARTIFACTS: usize = 2_000;

/// The HTML report of a `repro check`, with the default limits.
pub fn check(r: &CheckReport) -> String {
    check_with(r, &Limits::default())
}

/// The HTML report of a `repro check` within `limits`.
pub fn check_with(r: &CheckReport, limits: &Limits) -> String {
    let word = match r.verdict {
        Verdict::Reproducible => "reproducible",
        Verdict::NotReproducible => "NOT reproducible",
    };
    page(
        &format!("repro check {}: {word}", r.project),
        &check_body(r, limits, false),
    )
}

/// The page body of a check report; `embedded` (in a rebuild report) makes its title a
/// section heading rather than the page's.
pub(super) fn check_body(r: &CheckReport, limits: &Limits, embedded: bool) -> String {
    let mut budget = Budget::new(*limits);
    let max = limits.cell_chars;
    // The trees first, so that the summary can say whether the page was cut.
    let mut trees = String::new();
    for (i, a) in r.artifacts.iter().enumerate() {
        if a.differences.is_empty() {
            continue;
        }
        let _ = writeln!(
            trees,
            "<section class=\"artifact\" id=\"artifact-{i}\">\n<h3>{}</h3>",
            clipped(&a.path, max)
        );
        for d in &a.differences {
            let _ = writeln!(trees, "<h4>run A vs run {}</h4>", escape(&d.run));
            excluded_list(&mut trees, &d.excluded, &mut budget);
            match &d.tree {
                Some(t) => {
                    let b = format!("run {}", d.run);
                    tree::render(&mut trees, t, Sides::new("run A", &b), &mut budget);
                }
                None => {
                    let _ = writeln!(
                        trees,
                        "<p>only in some runs: present in one of run A and run {}, not the other</p>",
                        escape(&d.run)
                    );
                }
            }
        }
        trees.push_str("</section>\n");
    }

    let (class, word) = match r.verdict {
        Verdict::Reproducible => ("good", "reproducible"),
        Verdict::NotReproducible => ("bad", "NOT reproducible"),
    };
    let mut body = String::new();
    if embedded {
        let _ = writeln!(
            body,
            "<main>\n<section id=\"summary\">\n<h2>The runs: <span class=\"mono\">{}</span> <span class=\"badge {class}\">{word}</span></h2>",
            clipped(&r.project, max)
        );
    } else {
        let _ = writeln!(
            body,
            "<header><h1>repro check <span class=\"mono\">{}</span> <span class=\"verdict {class}\" id=\"verdict\">{word}</span></h1></header>\n<main>\n<section id=\"summary\">\n<h2>Summary</h2>",
            clipped(&r.project, max)
        );
    }
    body.push_str(&capped_note(&budget));
    setup(&mut body, r, max);
    culprits(&mut body, r, max);
    findings(&mut body, r, max);
    if !r.notes.is_empty() {
        body.push_str("<h3>Notes</h3>\n<ul class=\"notes\">\n");
        for n in &r.notes {
            let _ = writeln!(body, "<li>{}</li>", clipped(n, max));
        }
        body.push_str("</ul>\n");
    }
    if let (Some(headline), Some(source)) = (crate::report::check::source_headline(r), &r.source) {
        let _ = writeln!(
            body,
            "<h3>Source</h3>\n<p id=\"source\">{}</p>\n<ul class=\"notes\">",
            clipped(&headline, max)
        );
        for c in &source.uncommitted {
            let _ = writeln!(
                body,
                "<li>{} <span class=\"mono\">{}</span></li>",
                c.change.name(),
                clipped(&c.path, max)
            );
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</section>\n");
    runs(&mut body, r, max);
    artifacts(&mut body, r, max);
    if !trees.is_empty() {
        body.push_str("<section id=\"differences\">\n<h2>Differences</h2>\n");
        body.push_str(&trees);
        body.push_str("</section>\n");
    }
    body.push_str("</main>\n");
    body
}

fn setup(out: &mut String, r: &CheckReport, max: usize) {
    out.push_str("<table class=\"kv setup\">\n");
    let _ = writeln!(
        out,
        "<tr><th>build</th><td><code>{}</code> <span class=\"muted\">({})</span></td></tr>",
        clipped(&r.build.command.join(" "), max),
        escape(&r.build.origin)
    );
    let _ = writeln!(
        out,
        "<tr><th>backend</th><td>{}{}</td></tr>",
        escape(&r.backend),
        if r.isolated {
            " (isolated)".to_string()
        } else {
            " <span class=\"badge bad\">UNISOLATED</span> the builds ran as plain processes on this machine"
                .to_string()
        }
    );
    let _ = writeln!(
        out,
        "<tr><th>image</th><td><span class=\"mono\">{}</span> · id <span class=\"mono digest\">{}</span>{}</td></tr>",
        clipped(&r.image.reference, max),
        clipped(&r.image.image_id, max),
        // The local backend has no image to pin; it is called out as unisolated instead.
        if r.image.pinned || !r.isolated {
            ""
        } else {
            " <span class=\"badge bad\">UNPINNED</span>"
        }
    );
    let _ = writeln!(
        out,
        "<tr><th>SOURCE_DATE_EPOCH</th><td><span class=\"mono\">{}</span> ({}, {})</td></tr>",
        r.source_date_epoch,
        unix_time(r.source_date_epoch),
        escape(&r.source_date_epoch_origin.to_string())
    );
    let network = if !r.isolated {
        "the host's (unisolated)"
    } else if r.hermetic {
        "off (hermetic)"
    } else {
        "ON (not hermetic)"
    };
    let _ = writeln!(out, "<tr><th>network</th><td>{network}</td></tr>");
    let varied: Vec<String> = r
        .variations
        .iter()
        .map(|v| format!("<span class=\"badge\">{}</span>", escape(v.name())))
        .collect();
    let _ = writeln!(
        out,
        "<tr><th>variations</th><td>{}</td></tr>",
        if varied.is_empty() {
            "none".to_string()
        } else {
            varied.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "<tr><th>took</th><td>{:.1}s, {} runs</td></tr>\n</table>",
        r.elapsed_ms as f64 / 1000.0,
        r.runs.len()
    );
}

fn culprits(out: &mut String, r: &CheckReport, max: usize) {
    let Some(iso) = &r.isolation else {
        return;
    };
    let random = r.artifacts.iter().any(|a| a.random);
    out.push_str("<h3 id=\"culprits\">Culprits</h3>\n<p class=\"culprits\">");
    if r.culprits.is_empty() {
        out.push_str("none");
    } else {
        for v in &r.culprits {
            let _ = write!(out, "<span class=\"badge bad\">{}</span>", escape(v.name()));
        }
    }
    if random {
        out.push_str(" · <span class=\"badge bad\">random</span> (differs with every variation off)");
    }
    let _ = writeln!(
        out,
        " <span class=\"muted\">({} isolation probes of a budget of {}, {} at a time, in {:.1}s{})</span></p>",
        iso.probes,
        iso.budget,
        iso.jobs,
        iso.duration_ms as f64 / 1000.0,
        if iso.exhausted {
            "; the budget ran out, so the sets may not be minimal"
        } else {
            ""
        }
    );
    let with_sets: Vec<_> = r
        .artifacts
        .iter()
        .filter(|a| !a.culprit_sets.is_empty() || a.random)
        .collect();
    if with_sets.is_empty() {
        return;
    }
    out.push_str("<table class=\"culprit-sets\"><tr><th>artifact</th><th>minimal sets of variations that produce its difference</th></tr>\n");
    for a in with_sets.iter().take(MAX_ARTIFACTS) {
        let sets: Vec<String> = a
            .culprit_sets
            .iter()
            .map(|s| {
                s.iter()
                    .map(|v| format!("<span class=\"badge bad\">{}</span>", escape(v.name())))
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .collect();
        let sets = if a.random {
            "random (differs with every variation off)".to_string()
        } else {
            sets.join(" <span class=\"muted\">or</span> ")
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{sets}</td></tr>",
            clipped(&a.path, max)
        );
    }
    out.push_str("</table>\n");
}

fn findings(out: &mut String, r: &CheckReport, max: usize) {
    if r.findings.is_empty() && r.build_findings.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h3 id=\"findings\">Findings ({})</h3>",
        r.findings.len() + r.build_findings.len()
    );
    if !r.findings.is_empty() {
        out.push_str(
            "<table class=\"findings\"><tr><th>cause</th><th>symptom</th><th>artifact ▸ path</th><th>evidence</th><th>hint</th></tr>\n",
        );
        for f in r.findings.iter().take(MAX_FINDINGS) {
            let (code, symptom) = (f.code.to_string(), f.symptom.to_string());
            let _ = writeln!(
                out,
                "<tr><td><span class=\"badge bad\">{0}</span><br><span class=\"muted mono\" title=\"what this code means\">docs/diagnostics.md#{0}</span></td>\
                 <td><span class=\"mono\">{1}</span><br><span class=\"muted mono\">docs/diagnostics.md#{1}</span></td>\
                 <td class=\"mono\">{2}</td><td class=\"evidence\">{3}</td><td class=\"hint\">{4}</td></tr>",
                escape(&code),
                escape(&symptom),
                clipped(&where_in(&f.artifact, &f.path), max),
                code_spans(&clipped(&f.evidence, max)),
                code_spans(&clipped(&f.hint, max))
            );
        }
        if r.findings.len() > MAX_FINDINGS {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"5\" class=\"cut\">… {} more findings (the JSON report has them all)</td></tr>",
                r.findings.len() - MAX_FINDINGS
            );
        }
        out.push_str("</table>\n");
    }
    if !r.build_findings.is_empty() {
        out.push_str(
            "<table class=\"findings build\"><tr><th>cause</th><th>run</th><th>what happened</th></tr>\n",
        );
        for f in r.build_findings.iter().take(MAX_FINDINGS) {
            let _ = writeln!(
                out,
                "<tr><td><span class=\"badge bad\">{0}</span><br><span class=\"muted mono\">docs/diagnostics.md#{0}</span></td><td>{1}</td><td>{2}</td></tr>",
                escape(&f.code),
                escape(&f.run),
                clipped(&f.message, max)
            );
        }
        out.push_str("</table>\n");
    }
}

fn runs(out: &mut String, r: &CheckReport, max: usize) {
    out.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n<table class=\"runs\"><tr><th>run</th><th>role</th><th>status</th><th>build time</th><th>repro overhead</th><th>outputs</th><th>build path</th><th>variations on</th></tr>\n");
    for run in &r.runs {
        let status = if run.timed_out {
            "<span class=\"badge bad\">timed out</span>".to_string()
        } else if run.exit_code == 0 {
            "<span class=\"badge good\">ok</span>".to_string()
        } else {
            format!("<span class=\"badge bad\">exit {}</span>", run.exit_code)
        };
        let role = if run.spec.is_control() {
            "control"
        } else {
            "varied"
        };
        let vars: Vec<&str> = run.spec.variations.iter().map(|v| v.name()).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{role}</td><td>{status}</td><td>{:.1}s</td><td>{:.2}s</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(&run.spec.label),
            run.duration_ms as f64 / 1000.0,
            run.overhead_ms as f64 / 1000.0,
            run.outputs,
            clipped(&run.spec.build_path, max),
            if vars.is_empty() {
                "none".to_string()
            } else {
                escape(&vars.join(", "))
            }
        );
    }
    out.push_str("</table>\n");
    for run in r.runs.iter().filter(|run| !run.log_tail.is_empty()) {
        let failed = run.timed_out || run.exit_code != 0;
        let _ = writeln!(
            out,
            "<details class=\"list\"{}><summary>run {}: the last {} lines of the build log</summary><pre>{}</pre></details>",
            if failed { " open" } else { "" },
            escape(&run.spec.label),
            run.log_tail.len(),
            clipped(&run.log_tail.join("\n"), max * 20)
        );
    }
    out.push_str("</section>\n");
}

fn artifacts(out: &mut String, r: &CheckReport, max: usize) {
    let same = r.artifacts.iter().filter(|a| a.reproducible).count();
    let _ = writeln!(
        out,
        "<section id=\"artifacts\">\n<h2>Artifacts</h2>\n<p>{same} identical in every run, <b>{}</b> differ</p>",
        r.artifacts.len() - same
    );
    let labels: Vec<&str> = r.runs.iter().map(|run| run.spec.label.as_str()).collect();
    out.push_str("<table class=\"artifacts\"><tr><th>artifact</th><th>same in every run</th>");
    for l in &labels {
        let _ = write!(out, "<th>sha256 run {}</th>", escape(l));
    }
    out.push_str("</tr>\n");
    // Differing artifacts first: they are what the reader came for.
    let mut order: Vec<(usize, &crate::check::ArtifactReport)> = r.artifacts.iter().enumerate().collect();
    order.sort_by_key(|(_, a)| a.reproducible);
    for (i, a) in order.iter().take(MAX_ARTIFACTS) {
        let name = if a.differences.is_empty() {
            clipped(&a.path, max)
        } else {
            format!("<a href=\"#artifact-{i}\">{}</a>", clipped(&a.path, max))
        };
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{name}</td><td>{}</td>",
            if a.reproducible {
                "<span class=\"badge good\">✓ yes</span>"
            } else {
                "<span class=\"badge bad\">✗ no</span>"
            }
        );
        for l in &labels {
            match a.sha256.get(*l) {
                Some(Some(d)) => {
                    let _ = write!(
                        out,
                        "<td class=\"mono\" title=\"{}\">{}…</td>",
                        escape(d),
                        escape(&d.chars().take(12).collect::<String>())
                    );
                }
                Some(None) => out.push_str("<td class=\"muted\">(missing)</td>"),
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    if r.artifacts.len() > MAX_ARTIFACTS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"{}\" class=\"cut\">… {} more artifacts (the JSON report has them all)</td></tr>",
            labels.len() + 2,
            r.artifacts.len() - MAX_ARTIFACTS
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// Already escaped text with its `backticked` spans set as code (an unpaired backtick stays).
fn code_spans(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len() + 32);
    let mut parts = escaped.split('`').peekable();
    let mut inside = false;
    while let Some(part) = parts.next() {
        if inside {
            if parts.peek().is_none() {
                // No closing backtick.
                out.push('`');
                out.push_str(part);
                break;
            }
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

/// A finding's place: the artifact, then the path into it (whose first step, the tree's root,
/// is usually the artifact's own file name).
fn where_in(artifact: &str, path: &str) -> String {
    let (first, rest) = match path.split_once(" ▸ ") {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    let root_is_artifact = first.is_empty() || artifact == first || artifact.ends_with(&format!("/{first}"));
    match (root_is_artifact, rest) {
        (true, None) => artifact.to_string(),
        (true, Some(rest)) => format!("{artifact} ▸ {rest}"),
        (false, _) => format!("{artifact} ▸ {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{code_spans, where_in};

    #[test]
    fn backticks_become_code() {
        assert_eq!(
            code_spans("run `a` and `b`"),
            "run <code>a</code> and <code>b</code>"
        );
        assert_eq!(code_spans("odd ` one"), "odd ` one");
        assert_eq!(code_spans("`x` then `y"), "<code>x</code> then `y");
        assert_eq!(code_spans("none"), "none");
    }

    #[test]
    fn findings_name_the_artifact_once() {
        assert_eq!(where_in("out/p", "p"), "out/p");
        assert_eq!(
            where_in("out/a.tar.gz", "a.tar.gz ▸ a.tar ▸ x"),
            "out/a.tar.gz ▸ a.tar ▸ x"
        );
        assert_eq!(
            where_in("out/a.tar.gz", "in.tar ▸ x"),
            "out/a.tar.gz ▸ in.tar ▸ x"
        );
        assert_eq!(where_in("p", "p"), "p");
        assert_eq!(where_in("out/p", ""), "out/p");
    }
}
