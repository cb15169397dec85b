//! Diagnosis: turns difference trees into findings — a stable cause `code`, the format-level
//! `symptom`, the evidence that proves it and a hint a maintainer can act on. Evidence is
//! matched against what each run was actually given (its build path, hostname, user, clock…),
//! never guessed from file names. Codes and symptoms have one anchor each in
//! `docs/diagnostics.md`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::compare::{Change, Node};
use crate::plan::{RunSpec, TIME_SHIFT_DAYS, Variation};

/// The cause of a difference. Kebab-case names are stable (CLI, JSON, docs anchors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    Timestamp,
    BuildPath,
    FileOrder,
    Hostname,
    User,
    Umask,
    Locale,
    Timezone,
    Home,
    NumCpus,
    Environment,
    ExecPath,
    /// Differs even with every variation off.
    Random,
    /// The build fails only under some variation.
    BuildFailure,
    /// No evidence fits.
    Unknown,
}

impl Code {
    /// The variation whose difference this code names, if any.
    pub fn variation(self) -> Option<Variation> {
        Some(match self {
            Code::Timestamp => Variation::Time,
            Code::BuildPath => Variation::BuildPath,
            Code::FileOrder => Variation::FileOrder,
            Code::Hostname => Variation::Hostname,
            Code::User => Variation::User,
            Code::Umask => Variation::Umask,
            Code::Locale => Variation::Locale,
            Code::Timezone => Variation::Timezone,
            Code::Home => Variation::Home,
            Code::NumCpus => Variation::NumCpus,
            Code::Environment => Variation::Environment,
            Code::ExecPath => Variation::ExecPath,
            Code::Random | Code::BuildFailure | Code::Unknown => return None,
        })
    }

    /// The code naming a variation's differences.
    pub fn for_variation(v: Variation) -> Code {
        match v {
            Variation::Time => Code::Timestamp,
            Variation::BuildPath => Code::BuildPath,
            Variation::FileOrder => Code::FileOrder,
            Variation::Hostname => Code::Hostname,
            Variation::User => Code::User,
            Variation::Umask => Code::Umask,
            Variation::Locale => Code::Locale,
            Variation::Timezone => Code::Timezone,
            Variation::Home => Code::Home,
            Variation::NumCpus => Code::NumCpus,
            Variation::Environment => Code::Environment,
            Variation::ExecPath => Code::ExecPath,
        }
    }

    /// What a maintainer can do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Code::Timestamp => {
                "use SOURCE_DATE_EPOCH instead of the clock: `date -d @$SOURCE_DATE_EPOCH`, \
                 `tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime`, `gzip -n`, zip with fixed times \
                 (Python: ZipInfo with a fixed date_time), `touch -d @$SOURCE_DATE_EPOCH` before archiving"
            }
            Code::BuildPath => {
                "map the build directory away: gcc/clang `-ffile-prefix-map=$PWD=.` (keep it in \
                 CFLAGS your build uses), rustc `--remap-path-prefix`, go `-trimpath`; don't embed \
                 $PWD or __FILE__ of absolute paths"
            }
            Code::FileOrder => {
                "sort what you list: `find … | LC_ALL=C sort`, `tar --sort=name`, sorted(os.listdir()), \
                 sort glob results before archiving or linking"
            }
            Code::Hostname => {
                "don't record the machine name (uname -n, hostname, socket.gethostname()) in outputs"
            }
            Code::User => {
                "don't record the building user: `tar --owner=0 --group=0 --numeric-owner`, no $USER \
                 or `id -un` in outputs"
            }
            Code::Umask => {
                "don't let the umask reach outputs: `tar --mode=go-w` (or an explicit --mode), set \
                 modes explicitly (chmod/install -m), or `umask 022` at the start of the build"
            }
            Code::Locale => {
                "set `LC_ALL=C` for tools whose output depends on collation or formatting (sort, ls, date)"
            }
            Code::Timezone => {
                "format times in UTC: `TZ=UTC date …` (note: under libfaketime `date -u` follows TZ)"
            }
            Code::Home => "don't embed $HOME or paths under it (caches, config) in outputs",
            Code::NumCpus => {
                "don't record the CPU count (nproc, -j level) in outputs; parallel builds must not change them"
            }
            Code::Environment => "don't record the whole environment in outputs; pick the variables you need",
            Code::ExecPath => "don't record $PATH or tool locations found through it in outputs",
            Code::Random => {
                "the output differs even with nothing varied: seed or remove randomness (uuids, \
                 /dev/urandom, hash-seed ordering: PYTHONHASHSEED=0)"
            }
            Code::BuildFailure => {
                "the build fails under a variation: make it independent of what varied (see the log)"
            }
            Code::Unknown => "no evidence points at one variation; culprit isolation (re-runs) can name it",
        }
    }
}

/// The format-level effect of a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Symptom {
    ArchiveMtime,
    ArchiveOrder,
    ArchiveOwner,
    FileMode,
    GzipHeader,
    BuildId,
    DebugInfo,
    Content,
}

/// The stable kebab-case name serde gives a code or symptom (JSON, docs anchors, reports).
fn kebab(v: impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&kebab(self))
    }
}

impl std::fmt::Display for Symptom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&kebab(self))
    }
}

/// One diagnosed difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub symptom: Symptom,
    pub artifact: String,
    /// Path into the artifact (`app.tar.gz ▸ app.tar ▸ bin/x`).
    pub path: String,
    pub evidence: String,
    pub hint: String,
}

/// Finds the causes of the differences between the control run `a` and run `b` in the tree of
/// one artifact.
pub fn diagnose(artifact: &str, tree: &Node, a: &RunSpec, b: &RunSpec) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    tree.walk(&mut Vec::new(), &mut |path, node| {
        for change in &node.changes {
            let symptom = symptom_of(path, node, change);
            for (code, evidence) in evidence(change, a, b) {
                out.push(Finding {
                    code,
                    symptom,
                    artifact: artifact.to_string(),
                    path: path.join(" ▸ "),
                    evidence,
                    hint: code.hint().to_string(),
                });
            }
        }
    });
    if out.is_empty() {
        out.push(Finding {
            code: Code::Unknown,
            symptom: Symptom::Content,
            artifact: artifact.to_string(),
            path: tree.name.clone(),
            evidence: format!(
                "no value in the differences matches what run A and run {} were given",
                b.label
            ),
            hint: Code::Unknown.hint().to_string(),
        });
    }
    // One finding per (code, symptom, node path) is plenty; keep the first evidence.
    let mut seen = BTreeSet::new();
    out.retain(|f| seen.insert((f.code, f.symptom, f.path.clone())));
    fold_siblings(out)
}

/// Many members with the same cause and symptom (every mtime of a tar) become one finding.
fn fold_siblings(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let parent = f
            .path
            .rsplit_once(" ▸ ")
            .map_or(String::new(), |(p, _)| p.to_string());
        let same = out.iter_mut().find(|g| {
            g.code == f.code
                && g.symptom == f.symptom
                && g.artifact == f.artifact
                && g.path
                    .rsplit_once(" ▸ ")
                    .map_or(String::new(), |(p, _)| p.to_string())
                    == parent
        });
        match same {
            Some(g) if g.symptom != Symptom::Content => {
                if !g.evidence.contains("(and more members") {
                    g.evidence.push_str(" (and more members of the same archive)");
                }
            }
            _ => out.push(f),
        }
    }
    out
}

fn symptom_of(path: &[&str], node: &Node, change: &Change) -> Symptom {
    let container_member = path.len() > 1;
    match change {
        Change::Order { .. } => Symptom::ArchiveOrder,
        Change::Field { field, .. } => {
            // Formats name fields in their own case (rpm's BUILDTIME, FILEUSERNAME).
            let lower = field.to_ascii_lowercase();
            let f = lower.as_str();
            if f.starts_with("gzip.") {
                Symptom::GzipHeader
            } else if f == "build-id" {
                Symptom::BuildId
            } else if (f.contains("mtime") || f.contains("time")) && container_member {
                Symptom::ArchiveMtime
            } else if [
                "uid",
                "gid",
                "uname",
                "gname",
                "user",
                "group",
                "username",
                "groupname",
            ]
            .iter()
            .any(|k| f.ends_with(k))
            {
                Symptom::ArchiveOwner
            } else if f.contains("mode") {
                Symptom::FileMode
            } else {
                Symptom::Content
            }
        }
        _ if node.name.starts_with("section .debug") || node.name.starts_with("section .zdebug") => {
            Symptom::DebugInfo
        }
        _ => Symptom::Content,
    }
}

/// The two sides' values of a change, as text to search.
fn sides(change: &Change) -> (String, String) {
    match change {
        Change::Field { a, b, .. } => (a.clone().unwrap_or_default(), b.clone().unwrap_or_default()),
        Change::Text { unified, .. } => {
            let pick = |mark: char| {
                unified
                    .lines()
                    .filter(|l| l.starts_with(mark) && !l.starts_with("---") && !l.starts_with("+++"))
                    .map(|l| &l[1..])
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (pick('-'), pick('+'))
        }
        Change::Strings { removed, added, .. } => (removed.join("\n"), added.join("\n")),
        Change::Order { a, b, .. } => (a.join("\n"), b.join("\n")),
        Change::Bytes { hexdump, .. } => (hexdump.a.clone(), hexdump.b.clone()),
        Change::Note { .. } => (String::new(), String::new()),
    }
}

/// Quote at most 60 characters around `needle` in `hay`.
fn quote(hay: &str, needle: &str) -> String {
    let line = hay.lines().find(|l| l.contains(needle)).unwrap_or(needle);
    let line: String = line.chars().take(60).collect();
    format!("`{}`", line.trim())
}

/// Every code whose evidence this change carries.
fn evidence(change: &Change, a: &RunSpec, b: &RunSpec) -> Vec<(Code, String)> {
    let (va, vb) = sides(change);
    let mut out = Vec::new();
    let mut pair = |code: Code, x: &str, y: &str| {
        if !x.is_empty() && x != y && va.contains(x) && vb.contains(y) {
            out.push((
                code,
                format!(
                    "run A has {} where run {} has {}",
                    quote(&va, x),
                    b.label,
                    quote(&vb, y)
                ),
            ));
            true
        } else {
            false
        }
    };
    let found_path = pair(Code::BuildPath, &a.build_path, &b.build_path);
    if !found_path {
        // The remapped or relative forms still show the path's last components.
        let tail = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
        let (ta, tb) = (tail(&a.build_path), tail(&b.build_path));
        if ta.len() > 2 && tb.len() > 2 {
            pair(Code::BuildPath, &format!("/{ta}"), &format!("/{tb}"));
        }
    }
    pair(Code::Hostname, &a.hostname, &b.hostname);
    if !pair(Code::User, &a.user.name, &b.user.name) {
        pair(Code::User, &a.user.uid.to_string(), &b.user.uid.to_string());
    }
    pair(Code::Home, &a.home, &b.home);
    if let (Some(x), Some(y)) = (a.env.get("TZ"), b.env.get("TZ"))
        && x != y
    {
        // `date +%Z` prints the zone name, or its offset for Etc/GMT±N zones (which are
        // named with the opposite sign).
        let shown = |tz: &str| match tz.strip_prefix("Etc/GMT") {
            Some(o) if o.starts_with('-') => format!("+{}", &o[1..]),
            Some(o) if o.starts_with('+') => format!("-{}", &o[1..]),
            _ => tz.to_string(),
        };
        pair(Code::Timezone, &shown(x), &shown(y));
    }
    if let (Some(x), Some(y)) = (a.env.get("LC_ALL"), b.env.get("LC_ALL")) {
        pair(Code::Locale, x, y);
    }
    if let Some(extra) = b.env.get("REPRO_EXTRA_VARIABLE")
        && vb.contains(extra)
        && !va.contains(extra)
    {
        out.push((
            Code::Environment,
            format!(
                "run {} has the extra variable's value {}",
                b.label,
                quote(&vb, extra)
            ),
        ));
    }
    if let Some(dir) = b.extra_path_dirs.first()
        && vb.contains(dir.as_str())
        && !va.contains(dir.as_str())
    {
        out.push((
            Code::ExecPath,
            format!("run {} has its extra PATH directory {}", b.label, quote(&vb, dir)),
        ));
    }
    timestamp_evidence(change, &va, &vb, a, b, &mut out);
    umask_evidence(change, b, &mut out);
    order_evidence(change, &va, &vb, a, b, &mut out);
    if b.cpuset.is_some() && a.cpuset.is_none() {
        cpu_evidence(&va, &vb, b, &mut out);
    }
    out
}

/// Seconds of the faked clock each run started at, from FAKETIME `@YYYY-MM-DD HH:MM:SS`.
fn clock_year(spec: &RunSpec) -> Option<String> {
    spec.env
        .get("FAKETIME")
        .and_then(|f| f.strip_prefix('@'))
        .map(|d| d.chars().take(4).collect())
}

fn timestamp_evidence(
    change: &Change,
    va: &str,
    vb: &str,
    a: &RunSpec,
    b: &RunSpec,
    out: &mut Vec<(Code, String)>,
) {
    if !b.variations.contains(&Variation::Time) {
        return;
    }
    // Times shown as `… (secs)`: far apart by about the clock shift.
    let secs = |s: &str| {
        s.rsplit_once('(')
            .and_then(|(_, r)| r.trim_end_matches(')').parse::<i64>().ok())
    };
    if let (Change::Field { .. }, Some(x), Some(y)) = (change, secs(va), secs(vb)) {
        let shift = TIME_SHIFT_DAYS * 86_400;
        if (y - x - shift).abs() < 2 * 86_400 {
            out.push((
                Code::Timestamp,
                format!(
                    "run A has {va} where run {} has {vb}: {TIME_SHIFT_DAYS} days apart, like their clocks",
                    b.label
                ),
            ));
            return;
        }
    }
    if let (Some(ya), Some(yb)) = (clock_year(a), clock_year(b))
        && ya != yb
        && va.contains(&ya)
        && vb.contains(&yb)
    {
        out.push((
            Code::Timestamp,
            format!(
                "run A has {} where run {} has {}: the years of their clocks",
                quote(va, &ya),
                b.label,
                quote(vb, &yb)
            ),
        ));
    }
}

fn umask_evidence(change: &Change, b: &RunSpec, out: &mut Vec<(Code, String)>) {
    let Change::Field {
        field,
        a: Some(x),
        b: Some(y),
    } = change
    else {
        return;
    };
    if !field.contains("mode") || !b.variations.contains(&Variation::Umask) {
        return;
    }
    let octal = |s: &str| {
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        u32::from_str_radix(&digits, 8).ok()
    };
    if let (Some(m), Some(n)) = (octal(x), octal(y))
        && m ^ n == 0o020
        && n & 0o020 != 0
    {
        out.push((
            Code::Umask,
            format!(
                "mode {x} became {y}: group write added, as umask 0002 (run {}) allows",
                b.label
            ),
        ));
    }
}

fn order_evidence(
    change: &Change,
    va: &str,
    vb: &str,
    a: &RunSpec,
    b: &RunSpec,
    out: &mut Vec<(Code, String)>,
) {
    let reordered = |x: &str, y: &str| {
        let (mut p, mut q): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
        p.sort_unstable();
        q.sort_unstable();
        p == q && p.len() > 1 && x != y
    };
    let is_order = matches!(change, Change::Order { .. }) || reordered(va, vb);
    if !is_order {
        return;
    }
    let pathlike =
        va.lines().filter(|l| l.contains('/') || l.contains('.')).count() * 2 >= va.lines().count();
    if pathlike && b.file_order != a.file_order {
        out.push((
            Code::FileOrder,
            format!(
                "the same {} entries in another order: run A created the source {:?}, run {} {:?}",
                va.lines().count(),
                a.file_order,
                b.label,
                b.file_order
            ),
        ));
    } else if !pathlike && a.env.get("LC_ALL") != b.env.get("LC_ALL") {
        out.push((
            Code::Locale,
            format!(
                "the same lines sorted differently: LC_ALL {} vs {}",
                a.env.get("LC_ALL").map_or("", |s| s),
                b.env.get("LC_ALL").map_or("", |s| s)
            ),
        ));
    }
}

fn cpu_evidence(va: &str, vb: &str, b: &RunSpec, out: &mut Vec<(Code, String)>) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if cpus < 2 {
        return;
    }
    // Lines identical but for one standalone number: the CPU count in A, 1 in B.
    let tokens = |l: &str| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in l.chars() {
            match v.last_mut() {
                Some(t) if t.chars().all(|d| d.is_ascii_digit()) == c.is_ascii_digit() => t.push(c),
                _ => v.push(c.to_string()),
            }
        }
        v
    };
    for (x, y) in va.lines().zip(vb.lines()) {
        let (tx, ty) = (tokens(x), tokens(y));
        if tx.len() != ty.len() {
            continue;
        }
        let diffs: Vec<(&String, &String)> = tx.iter().zip(&ty).filter(|(p, q)| p != q).collect();
        if let [(p, q)] = diffs[..]
            && **p == cpus.to_string()
            && q == "1"
        {
            out.push((
                Code::NumCpus,
                format!("run A has `{x}` where run {} (one CPU) has `{y}`", b.label),
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, select};

    fn runs() -> (RunSpec, RunSpec) {
        let def = crate::recipe::parse_project("t", "[build]\ncommand=[\"make\"]\n").unwrap();
        let plan = Plan::new(def, 1_700_000_000, 1_800_000_000, select(&[], &[]), 2);
        (plan.runs[0].clone(), plan.runs[1].clone())
    }

    fn node(name: &str, change: Change) -> Node {
        let mut n = Node::new(name);
        n.changes.push(change);
        n
    }

    fn codes(tree: &Node) -> Vec<(Code, Symptom)> {
        let (a, b) = runs();
        diagnose("x", tree, &a, &b)
            .into_iter()
            .map(|f| (f.code, f.symptom))
            .collect()
    }

    #[test]
    fn matches_what_the_runs_were_given() {
        let (a, b) = runs();
        let strings = Change::Strings {
            field: "strings".into(),
            removed: vec![format!("{}/src", a.build_path)],
            added: vec![format!("{}/src", b.build_path)],
            omitted: 0,
        };
        assert_eq!(
            codes(&node("section .debug_str", strings)),
            [(Code::BuildPath, Symptom::DebugInfo)]
        );
        let mut tar = Node::new("a.tar");
        tar.children
            .push(node("f", Change::field("mode", "0644", "0664")));
        assert_eq!(codes(&tar), [(Code::Umask, Symptom::FileMode)]);
        let mut tar = Node::new("a.tar");
        let t0 = 1_800_000_000i64;
        let t1 = t0 + TIME_SHIFT_DAYS * 86_400 + 5;
        tar.children.push(node(
            "f",
            Change::field("mtime", format!("x ({t0})"), format!("y ({t1})")),
        ));
        assert_eq!(codes(&tar), [(Code::Timestamp, Symptom::ArchiveMtime)]);
        // rpm names its header tags in capitals.
        let (a, b) = runs();
        let mut rpm = Node::new("p.rpm");
        rpm.children.push(node(
            "header",
            Change::field("BUILDHOST", a.hostname.clone(), b.hostname.clone()),
        ));
        rpm.children.push(node(
            "header",
            Change::field("FILEUSERNAME", "/x: builder", "/x: rebuilder"),
        ));
        let found = codes(&rpm);
        assert!(found.contains(&(Code::Hostname, Symptom::Content)), "{found:?}");
        assert!(
            found.iter().any(|(_, s)| *s == Symptom::ArchiveOwner),
            "{found:?}"
        );
    }

    #[test]
    fn no_evidence_is_unknown_not_a_guess() {
        let text = crate::compare::text::unified("build-id 4f2a\n", "build-id 9c1d\n", 10).unwrap();
        assert_eq!(codes(&node("id.txt", text)), [(Code::Unknown, Symptom::Content)]);
        // A digit that merely equals the CPU count is no evidence of num-cpus.
        let text = crate::compare::text::unified("a2b\n", "a1c\n", 10).unwrap();
        assert!(!codes(&node("t", text)).iter().any(|(c, _)| *c == Code::NumCpus));
    }
}
