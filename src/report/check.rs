//! Reports of `repro check`: text (short on a terminal, everything with -v), JSON and
//! Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use super::text::{BOLD, BRIEF_FOOTER, CYAN, DIM, GREEN, RED, TextOptions, YELLOW, paint, render_node};
use crate::check::{CheckReport, Verdict};
use crate::escape::{markdown_code as code, markdown_text as md, shown};

/// Findings a brief (terminal) report lists.
const BRIEF_FINDINGS: usize = 10;
/// Differing artifacts a brief report shows the trees of.
const BRIEF_ARTIFACTS: usize = 5;

/// Version of the check report schema (`docs/schema/check-report.v2.json`; v1 is kept for reports of older versions).
pub const CHECK_SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Json<'a> {
    report: &'static str,
    schema_version: u32,
    repro_version: &'static str,
    #[serde(flatten)]
    check: &'a CheckReport,
}

pub fn json(r: &CheckReport) -> String {
    let j = Json {
        report: "repro-check",
        schema_version: CHECK_SCHEMA_VERSION,
        repro_version: env!("CARGO_PKG_VERSION"),
        check: r,
    };
    let mut s = serde_json::to_string_pretty(&j).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// One line on the dependency step: how many dependencies, how many came from the store, and
/// the store entries (by digest) the builds got.
pub fn dependency_line(r: &CheckReport) -> Option<String> {
    use crate::check::DepsSource;
    let phase = r.dependency_phase.as_ref()?;
    let per: Vec<String> = phase
        .ecosystems
        .iter()
        .map(|e| match (&e.store_digest, e.source) {
            (Some(d), _) => format!(
                "{} store entry {}",
                e.ecosystem,
                d.chars().take(12).collect::<String>()
            ),
            (None, DepsSource::Vendored) => format!("{} vendored", e.ecosystem),
            (None, DepsSource::Network) => {
                format!("{} fetched by the build (--network, unrecorded)", e.ecosystem)
            }
            (None, DepsSource::Unused) => format!("{} not used by this build", e.ecosystem),
            (None, _) => format!("{} none declared", e.ecosystem),
        })
        .collect();
    Some(format!(
        "dependencies: {} ({} from the store, {} fetched, {:.1}s) · {}",
        r.dependencies.len(),
        phase.from_store(),
        phase.fetched(),
        phase.elapsed_ms as f64 / 1000.0,
        per.join(" · ")
    ))
}

fn short(digest: &Option<String>) -> String {
    digest
        .as_deref()
        .map_or_else(|| "(missing)".to_string(), |d| d.chars().take(12).collect())
}

pub fn text(r: &CheckReport, opts: TextOptions) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Reproducible => paint(GREEN, "reproducible"),
        Verdict::NotReproducible => paint(RED, "NOT reproducible"),
    };
    let _ = writeln!(out, "{} {}: {verdict}", paint(BOLD, "repro check"), r.project);
    let _ = writeln!(
        out,
        "  build: {} ({}) · image {} ({}{}) · {} backend{}",
        r.build.command.join(" "),
        r.build.origin,
        r.image.reference,
        r.image.image_id.chars().take(19).collect::<String>(),
        if r.image.pinned { "" } else { ", UNPINNED" },
        r.backend,
        if r.isolated { ", isolated" } else { ", UNISOLATED" },
    );
    let _ = writeln!(
        out,
        "  SOURCE_DATE_EPOCH {} ({}) · network {}",
        r.source_date_epoch,
        r.source_date_epoch_origin,
        if !r.isolated {
            "the host's (unisolated)"
        } else if r.hermetic {
            "off"
        } else {
            "ON (not hermetic)"
        }
    );
    if let Some(line) = dependency_line(r) {
        let _ = writeln!(out, "  {line}");
    }
    let varied: Vec<&str> = r.variations.iter().map(|v| v.name()).collect();
    let _ = writeln!(
        out,
        "  variations: {}",
        if varied.is_empty() {
            "none".into()
        } else {
            varied.join(", ")
        }
    );
    for run in &r.runs {
        let status = if run.timed_out {
            paint(RED, "timed out")
        } else if run.exit_code == 0 {
            paint(GREEN, "ok")
        } else {
            paint(RED, &format!("exit {}", run.exit_code))
        };
        let role = if run.spec.is_control() {
            "control"
        } else {
            "varied"
        };
        let _ = writeln!(
            out,
            "  run {:<3} {role:<7} {status}  {:.1}s (repro overhead {:.2}s), {} outputs, build path {}",
            run.spec.label,
            run.duration_ms as f64 / 1000.0,
            run.overhead_ms as f64 / 1000.0,
            run.outputs,
            run.spec.build_path
        );
    }
    for note in &r.notes {
        let _ = writeln!(out, "  {} {}", paint(YELLOW, "note:"), shown(note));
    }
    if let Some(headline) = source_headline(r) {
        let _ = writeln!(out, "  {} {headline}", paint(YELLOW, "source:"));
        let listed = if opts.verbose { usize::MAX } else { SOURCE_LISTED };
        for c in r.source.iter().flat_map(|s| s.uncommitted.iter().take(listed)) {
            let _ = writeln!(out, "    {:<23} {}", c.change.name(), shown(&c.path));
        }
        if let Some(more) = source_more(r, listed) {
            let _ = writeln!(out, "    {more}");
        }
    }
    for f in &r.build_findings {
        let _ = writeln!(
            out,
            "{} [{}] {}",
            paint(RED, "finding:"),
            f.code,
            shown(&f.message)
        );
    }
    if let Some(iso) = &r.isolation {
        let culprits: Vec<&str> = r.culprits.iter().map(|v| v.name()).collect();
        let random = r.artifacts.iter().any(|a| a.random);
        let _ = writeln!(
            out,
            "\n{} {}{}  ({} isolation probes of {}, {} at a time, {:.1}s{})",
            paint(BOLD, "culprits:"),
            if culprits.is_empty() {
                "none".to_string()
            } else {
                paint(RED, &culprits.join(", "))
            },
            if random {
                " · random (differs with every variation off)"
            } else {
                ""
            },
            iso.probes,
            iso.budget,
            iso.jobs,
            iso.duration_ms as f64 / 1000.0,
            if iso.exhausted {
                ", budget exhausted: sets may not be minimal"
            } else {
                ""
            }
        );
        let with_sets: Vec<_> = r
            .artifacts
            .iter()
            .filter(|a| !a.culprit_sets.is_empty())
            .collect();
        let limit = opts.limit(usize::MAX, BRIEF_FINDINGS);
        let more = with_sets.len().saturating_sub(limit);
        for a in with_sets.into_iter().take(limit) {
            let sets: Vec<String> = a
                .culprit_sets
                .iter()
                .map(|s| format!("[{}]", s.iter().map(|v| v.name()).collect::<Vec<_>>().join(" + ")))
                .collect();
            let _ = writeln!(out, "  {}: {}", shown(&a.path), sets.join(" or "));
        }
        if more > 0 {
            let _ = writeln!(
                out,
                "  {}",
                paint(DIM, &format!("… {more} more artifacts with culprit sets (-v)"))
            );
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(out, "\nfindings:");
        let limit = opts.limit(usize::MAX, BRIEF_FINDINGS);
        for f in r.findings.iter().take(limit) {
            let (code, symptom) = (f.code, f.symptom);
            let _ = writeln!(
                out,
                "  {} ({symptom}) in {}",
                paint(RED, &format!("[{code}]")),
                shown(&f.path)
            );
            let _ = writeln!(out, "      evidence: {}", shown(&f.evidence));
            let _ = writeln!(out, "      {} {}", paint(CYAN, "hint:"), shown(&f.hint));
        }
        if r.findings.len() > limit {
            let _ = writeln!(
                out,
                "  {}",
                paint(DIM, &format!("… {} more findings (-v)", r.findings.len() - limit))
            );
        }
    }
    let same = r.artifacts.iter().filter(|a| a.reproducible).count();
    let _ = writeln!(
        out,
        "\nartifacts: {same} identical in every run, {} differ",
        r.artifacts.len() - same
    );
    let brief = opts.brief && !opts.verbose;
    let mut trees_shown = 0usize;
    for a in &r.artifacts {
        if brief && a.reproducible {
            continue;
        }
        if brief && !a.differences.is_empty() {
            trees_shown += 1;
            if trees_shown > BRIEF_ARTIFACTS {
                continue;
            }
        }
        let mark = if a.reproducible {
            paint(GREEN, "✓")
        } else {
            paint(RED, "✗")
        };
        let digests: Vec<String> = a
            .sha256
            .iter()
            .map(|(run, d)| format!("{run} {}", short(d)))
            .collect();
        if a.reproducible && !opts.verbose && r.artifacts.len() > 20 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {mark} {}  {}",
            shown(&a.path),
            paint(DIM, &digests.join("  "))
        );
        for d in &a.differences {
            match &d.tree {
                Some(tree) => {
                    let mut t = String::new();
                    render_node(&mut t, &[&format!("run A vs {}", d.run)], tree, opts);
                    for line in t.lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "      {}",
                        paint(CYAN, &format!("only in some runs (run {})", d.run))
                    );
                }
            }
        }
    }
    if brief {
        if trees_shown > BRIEF_ARTIFACTS {
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    DIM,
                    &format!(
                        "… {} more differing artifacts (-v)",
                        trees_shown - BRIEF_ARTIFACTS
                    )
                )
            );
        }
        if !r.artifacts.iter().all(|a| a.reproducible) {
            let _ = writeln!(out, "{}", paint(DIM, BRIEF_FOOTER));
        }
    }
    out
}

/// The Markdown report, sized for a CI job summary: verdict, culprits, findings with their
/// hints, then the artifacts.
pub fn markdown(r: &CheckReport) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Reproducible => "✅ reproducible",
        Verdict::NotReproducible => "❌ not reproducible",
    };
    let _ = writeln!(out, "## repro check `{}`: {verdict}\n", r.project);
    let _ = writeln!(
        out,
        "{} runs · {} backend{} · image `{}` · `SOURCE_DATE_EPOCH={}` · variations: {}\n",
        r.runs.len(),
        r.backend,
        if r.isolated { "" } else { " (**unisolated**)" },
        r.image.reference,
        r.source_date_epoch,
        r.variations
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(line) = dependency_line(r) {
        let _ = writeln!(out, "{line}\n");
    }
    if let Some(iso) = &r.isolation {
        let culprits: Vec<&str> = r.culprits.iter().map(|v| v.name()).collect();
        let random = r.artifacts.iter().any(|a| a.random);
        let _ = writeln!(
            out,
            "**Culprits:** {}{} ({} probes, {} at a time, {:.1} s{})\n",
            if culprits.is_empty() {
                "none".into()
            } else {
                culprits.join(", ")
            },
            if random {
                " · random (differs with every variation off)"
            } else {
                ""
            },
            iso.probes,
            iso.jobs,
            iso.duration_ms as f64 / 1000.0,
            if iso.exhausted {
                "; the budget ran out, so the sets may not be minimal"
            } else {
                ""
            }
        );
    }
    if !r.findings.is_empty() || !r.build_findings.is_empty() {
        let _ = writeln!(
            out,
            "| code | symptom | where | evidence | hint |\n|---|---|---|---|---|"
        );
        for f in &r.findings {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                f.code,
                f.symptom,
                code(&f.path, true),
                md(&f.evidence),
                // Our own words, with their code spans (no input in them).
                f.hint.replace('|', "\\|")
            );
        }
        for f in &r.build_findings {
            let _ = writeln!(out, "| `{}` | | run {} | {} | |", f.code, f.run, md(&f.message));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "| artifact | same in every run | sha256 per run |\n|---|---|---|"
    );
    for a in r.artifacts.iter().take(200) {
        let digests: Vec<String> = a
            .sha256
            .iter()
            .map(|(run, d)| format!("{run} `{}`", short(d)))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            code(&a.path, true),
            if a.reproducible { "✅" } else { "❌" },
            digests.join(" · ")
        );
    }
    for note in &r.notes {
        let _ = writeln!(out, "\n> note: {}", md(note));
    }
    if let Some(headline) = source_headline(r) {
        let listed: Vec<String> = r
            .source
            .iter()
            .flat_map(|s| s.uncommitted.iter().take(SOURCE_LISTED))
            .map(|c| format!("{} {}", c.change.name(), code(&c.path, true)))
            .collect();
        let more = source_more(r, SOURCE_LISTED)
            .map(|m| format!("; {m}"))
            .unwrap_or_default();
        let _ = writeln!(out, "\n> source: {}: {}{more}", md(&headline), listed.join(", "));
    }
    out
}

/// How many differing source files the text and Markdown reports list (`-v`: all).
const SOURCE_LISTED: usize = 10;

/// The line that says the builds got a working tree that is not its commit, when they did.
pub(crate) fn source_headline(r: &CheckReport) -> Option<String> {
    let s = r.source.as_ref().filter(|s| !s.uncommitted.is_empty())?;
    let sparse = s
        .uncommitted
        .iter()
        .filter(|c| !c.change.is_modification())
        .count();
    let modified = s.uncommitted.len() - sparse;
    let what = match (modified, sparse) {
        (m, 0) => format!("{m} file(s) differ from"),
        (0, s) => format!("{s} file(s) of the sparse checkout are absent from"),
        (m, s) => format!("{m} file(s) differ from, and {s} absent (sparse checkout) from,"),
    };
    Some(format!(
        "the builds got the working tree as it is: {what} commit {}",
        s.commit
    ))
}

/// "… and N more" past the first `listed` differing source files.
fn source_more(r: &CheckReport, listed: usize) -> Option<String> {
    let total = r.source.as_ref().map_or(0, |s| s.uncommitted.len());
    (total > listed).then(|| format!("… and {} more (-v or the JSON report lists all)", total - listed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::check_report;

    fn plain(s: &str) -> String {
        anstream::adapter::strip_str(s).to_string()
    }

    #[test]
    fn the_dependency_line_counts_says_what_came_from_the_store_and_names_the_entry() {
        use crate::check::{DependencyPhase, DepsSource, EcosystemDeps};
        use crate::deps::{Dependency, Ecosystem};
        let mut r = check_report();
        assert_eq!(dependency_line(&r), None);
        r.dependencies = vec![
            Dependency::new(Ecosystem::Cargo, "itoa", "1.0.11", &"a".repeat(64)),
            Dependency::new(Ecosystem::Cargo, "ryu", "1.0.18", &"b".repeat(64)),
        ];
        r.dependency_phase = Some(DependencyPhase {
            store: "/cache/deps".into(),
            ecosystems: vec![
                EcosystemDeps {
                    ecosystem: Ecosystem::Cargo,
                    source: DepsSource::Store,
                    detail: "Cargo.lock".into(),
                    store_digest: Some("0123456789abcdef".repeat(4)),
                    count: 2,
                    generated_lockfile: None,
                },
                EcosystemDeps {
                    ecosystem: Ecosystem::Go,
                    source: DepsSource::Vendored,
                    detail: "vendor/modules.txt".into(),
                    store_digest: None,
                    count: 0,
                    generated_lockfile: None,
                },
            ],
            elapsed_ms: 40,
        });
        let line = dependency_line(&r).unwrap();
        assert_eq!(
            line,
            "dependencies: 2 (2 from the store, 0 fetched, 0.0s) · cargo store entry 0123456789ab · go vendored"
        );
        assert!(plain(&text(&r, TextOptions::new(false, false))).contains(&line));
        let json: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(json["schema_version"], 2);
        assert_eq!(json["dependencies"][0]["uri"], "pkg:cargo/itoa@1.0.11");
        assert_eq!(json["dependencies"][1]["digest"]["sha256"], "b".repeat(64));
    }

    #[test]
    fn brief_check_report_leads_with_culprits_and_findings_and_skips_the_rest() {
        let mut r = check_report();
        // Many findings: a terminal sees the first few.
        let f = r.findings[0].clone();
        r.findings = (0..25)
            .map(|i| crate::diagnose::Finding {
                path: format!("in.tar ▸ f{i}"),
                ..f.clone()
            })
            .collect();
        let brief = plain(&text(&r, TextOptions::new(false, true)));
        let normal = plain(&text(&r, TextOptions::new(false, false)));
        let full = plain(&text(&r, TextOptions::new(true, false)));
        for s in [&brief, &normal, &full] {
            assert!(s.contains("NOT reproducible"), "{s}");
            assert!(s.contains("culprits: time, build-path, locale"), "{s}");
            assert!(s.contains("[time] or [build-path + locale]"), "{s}");
            assert!(s.contains("[build-path] (content) in in.tar ▸ f0"), "{s}");
        }
        assert!(brief.contains("… 15 more findings (-v)"), "{brief}");
        assert!(!brief.contains("in.tar ▸ f24") && normal.contains("in.tar ▸ f24"));
        // Reproducible artifacts are left out on a terminal, listed elsewhere.
        assert!(!brief.contains("out/same.bin") && normal.contains("out/same.bin"));
        assert!(brief.contains("-v shows everything"));
        assert!(!normal.contains("-v shows everything"));
        assert!(brief.lines().count() < normal.lines().count());
        assert!(normal.lines().count() <= full.lines().count());
    }
}
