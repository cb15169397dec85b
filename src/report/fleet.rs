//! A fleet's dashboard and summaries: counts and percentages per state, a row per job (state,
//! time, culprits, engines, its report, the command that reproduces it), as one self-contained
//! HTML page with a filter by state (CSS only: the page runs nothing), Markdown, and JSON.

use std::fmt::Write as _;

use super::html::{escape, page};
use crate::fleet::{JobKind, JobRecord, JobState};

/// Jobs per state, in the order states are listed.
pub fn counts(jobs: &[JobRecord]) -> Vec<(JobState, usize)> {
    JobState::ALL
        .iter()
        .map(|s| (*s, jobs.iter().filter(|j| j.state == *s).count()))
        .collect()
}

fn percent(n: usize, total: usize) -> String {
    if total == 0 {
        return "0%".into();
    }
    format!("{:.1}%", n as f64 * 100.0 / total as f64)
}

/// A word as a shell would read it: quoted unless it is plain.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The one command that reproduces a job locally.
pub fn reproduce_command(r: &JobRecord) -> String {
    match r.kind {
        JobKind::Check => format!("repro check {}", shell_word(&r.job)),
        JobKind::Rebuild => {
            let (provenance, source) = r.job.split_once('=').unwrap_or((&r.job, "."));
            format!(
                "repro rebuild {} --source {}",
                shell_word(provenance),
                shell_word(source)
            )
        }
    }
}

fn seconds(r: &JobRecord) -> String {
    r.outcome
        .as_ref()
        .map(|o| format!("{:.1} s", o.duration_ms as f64 / 1000.0))
        .unwrap_or_default()
}

fn culprits(r: &JobRecord) -> String {
    r.outcome
        .as_ref()
        .map(|o| o.culprits.join(", "))
        .unwrap_or_default()
}

fn engines(r: &JobRecord) -> Vec<String> {
    r.outcome
        .iter()
        .flat_map(|o| &o.runs)
        .map(|run| {
            let mut s = format!("{} on {} ({})", run.run, run.engine.url, short_id(&run.engine.id));
            if !run.lost.is_empty() {
                let _ = write!(s, ", after {} lost", run.lost.len());
            }
            s
        })
        .collect()
}

fn short_id(id: &str) -> String {
    id.chars().take(14).collect()
}

const DASHBOARD_STYLE: &str = "
.filters input{position:absolute;opacity:0}
.filters label{display:inline-block;margin:0 .4em .4em 0;padding:.2em .6em;border:1px solid #999;border-radius:1em;cursor:pointer}
.filters input:checked+label{background:#333;color:#fff}
table.jobs td{vertical-align:top}
td.state{font-weight:bold;white-space:nowrap}
.s-reproducible td.state{color:#176117}.s-not-reproducible td.state{color:#a11}
.s-failed-to-build td.state,.s-dependencies-unavailable td.state,.s-unchecked td.state{color:#8a5a00}
.reason{font-weight:normal;display:block}
";

/// The dashboard page. `report_link(job)` is the href of a job's HTML report, where there is one.
pub fn html(jobs: &[JobRecord], store: &str, report_link: &dyn Fn(&JobRecord) -> Option<String>) -> String {
    let total = jobs.len();
    let mut body = String::new();
    let _ = writeln!(body, "<style>{DASHBOARD_STYLE}");
    for s in JobState::ALL {
        let _ = writeln!(body, "#show-{s}:checked~table tr.job:not(.s-{s}){{display:none}}");
    }
    body.push_str("</style>\n");
    let _ = writeln!(body, "<h1>repro fleet: {total} jobs</h1>");
    let _ = writeln!(body, "<p>Store: <code>{}</code></p>", escape(store));
    body.push_str(
        "<table class=\"counts\"><thead><tr><th>state</th><th>jobs</th><th>share</th></tr></thead><tbody>\n",
    );
    for (state, n) in counts(jobs) {
        let _ = writeln!(
            body,
            "<tr class=\"count s-{state}\"><td class=\"state\">{state}</td><td>{n}</td><td>{}</td></tr>",
            percent(n, total)
        );
    }
    body.push_str("</tbody></table>\n<div class=\"filters\">\n");
    body.push_str("<p>Show:</p>\n<input type=\"radio\" name=\"show\" id=\"show-all\" checked><label for=\"show-all\">all</label>\n");
    for (state, n) in counts(jobs) {
        let _ = writeln!(
            body,
            "<input type=\"radio\" name=\"show\" id=\"show-{state}\"><label for=\"show-{state}\">{state} ({n})</label>"
        );
    }
    body.push_str(
        "<table class=\"jobs\"><thead><tr><th>#</th><th>job</th><th>state</th><th>time</th>\
         <th>culprits</th><th>runs</th><th>report</th><th>reproduce locally</th></tr></thead><tbody>\n",
    );
    for r in jobs {
        let reason = r
            .outcome
            .as_ref()
            .and_then(|o| o.reason.as_deref())
            .map(|why| format!("<span class=\"reason\">{}</span>", escape(why)))
            .unwrap_or_default();
        let link = match report_link(r) {
            Some(href) => format!("<a href=\"{}\">report</a>", escape(&href)),
            None => String::new(),
        };
        let _ = writeln!(
            body,
            "<tr class=\"job s-{state}\"><td>{id}</td><td class=\"name\">{job} <small>({kind})</small></td>\
             <td class=\"state\">{state}{reason}</td><td>{time}</td><td>{culprits}</td><td>{runs}</td>\
             <td>{link}</td><td><code>{command}</code></td></tr>",
            state = r.state,
            id = r.id,
            job = escape(&r.job),
            kind = r.kind.as_str(),
            time = seconds(r),
            culprits = escape(&culprits(r)),
            runs = engines(r)
                .iter()
                .map(|e| escape(e))
                .collect::<Vec<_>>()
                .join("<br>"),
            command = escape(&reproduce_command(r)),
        );
    }
    body.push_str("</tbody></table>\n</div>\n");
    page("repro fleet", &body)
}

/// A Markdown summary: counts per state, then a row per job.
pub fn markdown(jobs: &[JobRecord], store: &str) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let total = jobs.len();
    let mut out = format!("# repro fleet: {total} jobs\n\nStore: `{}`\n\n", cell(store));
    out.push_str("| state | jobs | share |\n|---|---:|---:|\n");
    for (state, n) in counts(jobs) {
        let _ = writeln!(out, "| {state} | {n} | {} |", percent(n, total));
    }
    out.push_str(
        "\n| # | job | state | time | culprits | reproduce locally |\n|---:|---|---|---:|---|---|\n",
    );
    for r in jobs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | `{}` |",
            r.id,
            cell(&r.job),
            r.state,
            seconds(r),
            cell(&culprits(r)),
            cell(&reproduce_command(r))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineIdentity;
    use crate::fleet::job::{Outcome, RunEngine, Timings};

    fn record(id: i64, job: &str, kind: JobKind, state: JobState) -> JobRecord {
        JobRecord {
            id,
            job: job.into(),
            kind,
            state,
            attempts: 1,
            claimed_by: None,
            finished_at: Some(1),
            outcome: state.is_final().then(|| Outcome {
                state,
                reason: (state == JobState::Unchecked).then(|| "engine <lost>".to_string()),
                duration_ms: 1500,
                timings: Timings::default(),
                runs: vec![RunEngine {
                    run: "A".into(),
                    engine: EngineIdentity {
                        id: "ID1".into(),
                        url: "unix:///a.sock".into(),
                        os: "Debian".into(),
                        kernel: "6.1".into(),
                    },
                    lost: Vec::new(),
                }],
                culprits: vec!["time".into()],
                report: None,
                report_html: None,
                attestation: None,
            }),
        }
    }

    #[test]
    fn the_dashboard_counts_states_and_escapes_jobs() {
        let jobs = vec![
            record(1, "test-projects/ok", JobKind::Check, JobState::Reproducible),
            record(
                2,
                "<script>alert(1)</script>",
                JobKind::Check,
                JobState::Unchecked,
            ),
            record(3, "p.json=src dir", JobKind::Rebuild, JobState::Queued),
        ];
        let page = html(&jobs, "sqlite:///x", &|r| Some(format!("jobs/{}.html", r.id)));
        assert!(
            page.contains("<td class=\"state\">reproducible</td><td>1</td><td>33.3%</td>"),
            "{page}"
        );
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("engine &lt;lost&gt;"));
        assert!(
            page.contains("repro rebuild p.json --source &#39;src dir&#39;"),
            "{page}"
        );
        assert!(page.contains("#show-unchecked:checked~table tr.job:not(.s-unchecked)"));
        let md = markdown(&jobs, "sqlite:///x");
        assert!(md.contains("| unchecked | 1 | 33.3% |"), "{md}");
        assert!(md.contains("`repro check test-projects/ok`"));
    }
}
