//! Test data shared by the report tests: a difference tree and a check report full of
//! attacker-controlled names and values.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::check::{
    ArtifactReport, BuildFinding, CheckReport, ImageInfo, IsolationSummary, RunDifference, RunRecord, Verdict,
};
use crate::compare::{Change, Comparison, Format, InputInfo, Node, Sides, Status, binary, text};
use crate::diagnose::{Code, Finding, Symptom};
use crate::plan::{Plan, Variation};
use crate::recipe::BuildDef;
use crate::source::EpochOrigin;

pub(crate) const EVIL: &str = "<script>alert('x')</script>";

pub(crate) fn input(path: &str, format: Format) -> InputInfo {
    InputInfo {
        path: path.into(),
        sha256: Some("ab".repeat(32)),
        size: Some(1234),
        format,
    }
}

pub(crate) fn comparison(root: Option<Node>) -> Comparison {
    Comparison {
        a: input("a/<b>.tar", Format::Tar),
        b: input("b/x.tar", Format::Tar),
        root,
        excluded: vec!["x ▸ <i>skipped</i>".into()],
        errors: Vec::new(),
        elapsed: Duration::from_millis(12),
    }
}

/// A tree with an attacker's member name, text and binary differences, strings, order, notes.
pub(crate) fn evil_tree() -> Node {
    let mut root = Node::new("in.tar").with_format("tar");
    let mut member = Node::new(format!("dir/{EVIL}.txt")).with_format("text");
    member
        .changes
        .push(Change::field("mtime", "1700000000", "1700000999"));
    member.changes.push(
        text::unified(
            &format!("keep\n{EVIL}\nsame\n"),
            "keep\n<img src=x onerror=alert(1)>\nsame\n",
            100,
        )
        .expect("texts differ"),
    );
    root.children.push(member);
    let mut bin = Node::new("blob.bin").with_format("binary");
    let (a, b) = (vec![0x41u8; 40], {
        let mut v = vec![0x41u8; 40];
        v[20] = b'<';
        v
    });
    bin.changes.push(Change::Bytes {
        first_offset: 20,
        differing_bytes: 1,
        hexdump: Sides::new(binary::hexdump(0, &a), binary::hexdump(0, &b)),
    });
    bin.changes.push(Change::Strings {
        field: ".rodata".into(),
        removed: vec!["</td><script>".into()],
        added: vec!["fine".into()],
        omitted: 0,
    });
    bin.changes.push(Change::Order {
        field: "member order".into(),
        first_difference: 1,
        a: vec!["x".into(), "y".into(), "z".into()],
        b: vec!["x".into(), "z".into(), "y".into()],
    });
    bin.changes.push(Change::note("<b>bold</b> note"));
    root.children.push(bin);
    let mut added = Node::new("only-new");
    added.status = Status::Added;
    root.children.push(added);
    root
}

pub(crate) fn build_def() -> BuildDef {
    BuildDef {
        command: vec!["make".into(), "<all>".into()],
        outputs: vec!["out/*".into()],
        exclude_outputs: Vec::new(),
        env: BTreeMap::new(),
        image: "default".into(),
        remap: true,
        network: false,
        timeout_secs: 60,
        memory_bytes: 1 << 30,
        disk_bytes: 1 << 30,
        origin: "repro.toml".into(),
        build_type: "https://example.invalid/bt".into(),
        control_path: None,
        control_root: false,
        with_git: false,
        offline: Default::default(),
    }
}

pub(crate) fn check_report() -> CheckReport {
    let variations: BTreeSet<Variation> = [Variation::Time, Variation::BuildPath, Variation::Locale].into();
    let plan = Plan::new(build_def(), 1_700_000_000, 1_700_000_100, variations.clone(), 2);
    let runs: Vec<RunRecord> = plan
        .runs
        .iter()
        .map(|spec| RunRecord {
            spec: spec.clone(),
            exit_code: 0,
            timed_out: false,
            duration_ms: 1500,
            overhead_ms: 200,
            outputs: 2,
            log_tail: vec!["cc -o <out>".into()],
            placement: None,
        })
        .collect();
    let sha = |s: &str| {
        BTreeMap::from([
            (crate::plan::CONTROL.to_string(), Some(s.repeat(64))),
            ("B".to_string(), Some("f".repeat(64))),
        ])
    };
    let differing = ArtifactReport {
        path: format!("out/{EVIL}.tar.gz"),
        sha256: sha("e"),
        metadata: BTreeMap::new(),
        reproducible: false,
        differences: vec![RunDifference {
            run: "B".into(),
            tree: Some(evil_tree()),
            excluded: Vec::new(),
        }],
        culprit_sets: vec![
            [Variation::Time].into(),
            [Variation::BuildPath, Variation::Locale].into(),
        ],
        random: false,
    };
    let same = ArtifactReport {
        path: "out/same.bin".into(),
        sha256: sha("f"),
        metadata: BTreeMap::new(),
        reproducible: true,
        differences: Vec::new(),
        culprit_sets: Vec::new(),
        random: false,
    };
    CheckReport {
        verdict: Verdict::NotReproducible,
        project: "/src/<proj>".into(),
        build: build_def(),
        backend: "local".into(),
        isolated: false,
        hermetic: false,
        image: ImageInfo {
            reference: "(this machine)".into(),
            image_id: "none: local backend".into(),
            layer_digest: None,
            tarball_sha256: None,
            pinned: false,
        },
        source_date_epoch: 1_700_000_000,
        source_date_epoch_origin: EpochOrigin::GitCommit,
        variations,
        runs,
        artifacts: vec![same, differing],
        build_findings: vec![BuildFinding {
            code: "build-failure".into(),
            run: "probe-1".into(),
            message: "exit 2 <stderr>".into(),
        }],
        findings: vec![Finding {
            code: Code::BuildPath,
            symptom: Symptom::Content,
            artifact: format!("out/{EVIL}.tar.gz"),
            path: "in.tar ▸ dir/x.txt".into(),
            evidence: "run A has `/build/a` where run B has `/build/<b>`".into(),
            hint: Code::BuildPath.hint().into(),
        }],
        culprits: [Variation::Time, Variation::BuildPath, Variation::Locale].into(),
        isolation: Some(IsolationSummary {
            builds: 5,
            probes: 5,
            budget: 24,
            exhausted: false,
            jobs: 2,
            rounds: 3,
            duration_ms: 2_400,
        }),
        notes: vec!["a <note>".into()],
        source: Some(crate::check::SourceStatus {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            uncommitted: vec![
                crate::source::SourceChange::from_status(b" M", b"src/main.c"),
                crate::source::SourceChange::from_status(b"??", b"new` **x** \xff<b>"),
            ],
        }),
        dependency_phase: None,
        dependencies: Vec::new(),
        elapsed_ms: 4200,
    }
}

/// Names that tried to act on a terminal or a Markdown page (issue 12, REDTEAM D9).
pub(crate) const HOSTILE_NAMES: [&str; 8] = [
    "cr\rover",
    "c1\u{9b}31m",
    "esc\x1b[31mRED\x1b[0m",
    "esc\x1b[32mRED\x1b[0m",
    "osc\x1b]0;TITLE\x07",
    "rlo\u{202e}txt.exe",
    "tick` **[CLICK ME](mailto:evil@example.com)** `end",
    "nl\n\n# repro: identical ✅\n\nx",
];

/// A comparison of two directories holding a differing file under each of `HOSTILE_NAMES`.
pub(crate) fn hostile_names() -> Comparison {
    let d = tempfile::tempdir().expect("tempdir");
    for (side, text) in [("a", "1\n"), ("b", "2\n")] {
        for name in HOSTILE_NAMES {
            let path = d.path().join(side).join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }
    crate::compare::Engine::new(
        crate::compare::Options::default(),
        crate::compare::Registry::default(),
    )
    .expect("engine")
    .compare_paths(&d.path().join("a"), &d.path().join("b"))
    .expect("comparison")
}
