//! RPM package comparison, on packages built at test time by `rpmbuild` from a minimal spec (no
//! committed blobs): build host and build time appear as named header fields, file content
//! differences reach the payload's cpio members, added files show in FILENAMES, and corrupt
//! packages fall back with a reason.

use crate::{common, corrupt};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use repro::compare::{Change, Comparison, Engine, Options, Registry};

use common::{assert_field, compare, field, find, node, root, sh};

/// One build of the package `hello` (noarch): `greeting.txt` holds `content`, and `extra.txt`
/// is packaged too when `extra`.
struct Build<'a> {
    host: &'a str,
    epoch: u64,
    content: &'a str,
    extra: bool,
}

impl Build<'_> {
    fn run(&self, dir: &Path, out: &str) -> PathBuf {
        let top = dir.join(format!("top-{out}"));
        std::fs::create_dir_all(top.join("SPECS")).unwrap();
        let (extra_install, extra_file) = if self.extra {
            (
                "printf 'more\\n' > %{buildroot}/usr/share/hello/extra.txt",
                "/usr/share/hello/extra.txt",
            )
        } else {
            ("", "")
        };
        let spec = format!(
            "Name: hello\nVersion: 1.0\nRelease: 1\nSummary: test package\nLicense: MIT\n\
             BuildArch: noarch\n%description\nA test package.\n%install\n\
             mkdir -p %{{buildroot}}/usr/share/hello\n\
             printf '%s\\n' '{}' > %{{buildroot}}/usr/share/hello/greeting.txt\n{extra_install}\n\
             %files\n/usr/share/hello/greeting.txt\n{extra_file}\n",
            self.content
        );
        std::fs::write(top.join("SPECS/hello.spec"), spec).unwrap();
        sh(
            dir,
            &format!(
                "SOURCE_DATE_EPOCH={} rpmbuild -bb --quiet --define '_topdir {}' \
                 --define '_buildhost {}' --define 'use_source_date_epoch_as_buildtime 1' \
                 --define 'clamp_mtime_to_source_date_epoch 1' {}/SPECS/hello.spec >/dev/null
                 cp {}/RPMS/noarch/hello-1.0-1.noarch.rpm {out}",
                self.epoch,
                top.display(),
                self.host,
                top.display(),
                top.display(),
            ),
        );
        dir.join(out)
    }
}

const A: Build<'static> = Build {
    host: "host-a",
    epoch: 1_700_000_000,
    content: "one",
    extra: false,
};

#[test]
fn build_host_and_time_are_named_fields_and_content_reaches_the_payload() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let a = A.run(p, "a.rpm");
    let b = Build {
        host: "host-b",
        epoch: 1_700_000_900,
        content: "two",
        ..A
    }
    .run(p, "b.rpm");
    let c = compare(&a, &b);
    assert_eq!(c.a.format.name(), "rpm");
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("rpm"));
    let h = node(r, "header");
    assert_field(h, "BUILDHOST", "host-a", "host-b");
    assert_field(
        h,
        "BUILDTIME",
        "2023-11-14T22:13:20Z (1700000000)",
        "2023-11-14T22:28:20Z (1700000900)",
    );
    // Per-file tags name the file.
    let (da, _) = field(h, "FILEDIGESTS").unwrap_or_else(|| panic!("{h:#?}"));
    assert!(
        da.unwrap_or_default()
            .starts_with("/usr/share/hello/greeting.txt: "),
        "{h:#?}"
    );
    assert!(field(node(r, "signature"), "SHA256").is_some(), "{r:#?}");
    let payload = node(r, "payload");
    let greeting = node(payload, "./usr/share/hello/greeting.txt");
    assert_eq!(greeting.format.as_deref(), Some("text"), "{greeting:#?}");
    assert!(
        payload
            .children
            .iter()
            .any(|n| n.format.as_deref() == Some("cpio")),
        "{payload:#?}"
    );
}

#[test]
fn host_only_difference_leaves_the_payload_out() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let a = A.run(p, "a.rpm");
    let b = Build { host: "host-b", ..A }.run(p, "b.rpm");
    let c = compare(&a, &b);
    let r = root(&c);
    assert_field(node(r, "header"), "BUILDHOST", "host-a", "host-b");
    assert!(field(node(r, "header"), "BUILDTIME").is_none(), "{r:#?}");
    assert!(find(r, "payload").is_none(), "{r:#?}");
    assert_eq!(r.identical_members, 1, "the payload: {r:#?}");
}

#[test]
fn an_added_file_shows_in_filenames_and_the_payload() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let a = A.run(p, "a.rpm");
    let b = Build { extra: true, ..A }.run(p, "b.rpm");
    let c = compare(&a, &b);
    let r = root(&c);
    let h = node(r, "header");
    let added = h.changes.iter().find_map(|c| match c {
        Change::Strings { field, added, .. } if field == "FILENAMES" => Some(added.clone()),
        _ => None,
    });
    assert_eq!(
        added,
        Some(vec!["/usr/share/hello/extra.txt".to_string()]),
        "{h:#?}"
    );
    assert!(
        find(node(r, "payload"), "./usr/share/hello/extra.txt").is_some(),
        "{r:#?}"
    );
}

fn fallback_reason(c: &Comparison) -> String {
    corrupt::fallback_reason(c, "rpm")
}

#[test]
fn truncated_and_absurd_packages_fall_back_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let good_path = A.run(p, "good.rpm");
    let good = std::fs::read(&good_path).unwrap();
    let write = |name: &str, bytes: &[u8]| corrupt::write(p, name, bytes);
    let reason = fallback_reason(&compare(&good_path, &write("lead.rpm", &good[..200])));
    assert!(reason.contains("truncated signature header"), "{reason}");

    // The signature header's index count (after the 96-byte lead, magic and reserved bytes).
    let mut absurd = good.clone();
    absurd[96 + 8..96 + 12].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    let reason = fallback_reason(&compare(&good_path, &write("absurd.rpm", &absurd)));
    assert!(reason.contains("exceed rpm's limits"), "{reason}");

    // The first signature entry's offset, pointed past the store.
    let mut offset = good.clone();
    offset[96 + 16 + 8..96 + 16 + 12].copy_from_slice(&0x0fff_ffffu32.to_be_bytes());
    let reason = fallback_reason(&compare(&good_path, &write("offset.rpm", &offset)));
    assert!(reason.contains("past the"), "{reason}");
}

fn sample() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::read(A.run(d.path(), "s.rpm")).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Mutated leads, indexes and stores never panic, and differing bytes are never identical.
    #[test]
    fn mutated_packages_never_panic(
        mutation in corrupt::mutation(),
        // Edits within the headers (the first 2 KiB), where counts and offsets live.
        header_edits in proptest::collection::vec((0usize..2048, any::<u8>()), 0..8),
    ) {
        let original = sample();
        let m = mutation.apply(original, |m| {
            for (at, v) in &header_edits {
                if let Some(b) = m.get_mut(*at) {
                    *b = *v;
                }
            }
        });
        corrupt::identical_only_when_equal(original, &m)?;
    }
}

#[test]
fn value_budget_falls_back() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let a = A.run(p, "a.rpm");
    let b = Build { host: "host-b", ..A }.run(p, "b.rpm");
    let opts = Options {
        max_entries: 1,
        ..Options::default()
    };
    let c = Engine::new(opts, Registry::default())
        .unwrap()
        .compare_paths(&a, &b)
        .unwrap();
    let reason = fallback_reason(&c);
    assert!(reason.contains("values, more than 1"), "{reason}");
}
