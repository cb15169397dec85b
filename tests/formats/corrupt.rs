//! Corrupted copies of real archives, shared by the ar, cpio and RPM tests: writing them beside
//! the good one, the fallback they must cause, and the property that a mutated copy never panics
//! the engine and never compares identical to the original unless it is.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use repro::compare::{Change, Comparison, Engine, Registry, Source};

use crate::common::{bounded_options, root};

/// Writes `bytes` to `dir/name` and returns its path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Why the comparison of a corrupt input fell back from `format` to bytes; the byte comparison
/// must report the differing bytes.
#[track_caller]
pub fn fallback_reason(c: &Comparison, format: &str) -> String {
    let r = root(c);
    let f = r
        .fallback
        .as_ref()
        .unwrap_or_else(|| panic!("no fallback: {r:#?}"));
    assert_eq!((f.from.as_str(), f.to.as_str()), (format, "binary"));
    assert!(
        r.changes.iter().any(|c| matches!(c, Change::Bytes { .. })),
        "{r:#?}"
    );
    f.reason.clone()
}

/// Bytes overwritten anywhere, then an optional cut.
#[derive(Debug, Clone)]
pub struct Mutation {
    edits: Vec<(Index, u8)>,
    cut: Option<Index>,
}

/// One to fifteen overwritten bytes, and a cut half of the time.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    (
        proptest::collection::vec((any::<Index>(), any::<u8>()), 1..16),
        proptest::option::of(any::<Index>()),
    )
        .prop_map(|(edits, cut)| Mutation { edits, cut })
}

impl Mutation {
    /// `original` with the edits written, then `aimed` (edits aimed at a format's fields), then
    /// cut.
    pub fn apply(&self, original: &[u8], aimed: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut m = original.to_vec();
        for (at, v) in &self.edits {
            let i = at.index(m.len());
            m[i] = *v;
        }
        aimed(&mut m);
        if let Some(cut) = self.cut {
            m.truncate(cut.index(m.len()));
        }
        m
    }
}

/// Compares `original` with `mutated` under tight budgets: no panic, and identical exactly
/// when the bytes are.
pub fn identical_only_when_equal(original: &[u8], mutated: &[u8]) -> Result<(), TestCaseError> {
    let engine = Engine::new(bounded_options(), Registry::default()).expect("engine");
    let c = engine.compare_sources(
        "p",
        &Source::memory(original.to_vec()),
        &Source::memory(mutated.to_vec()),
    );
    prop_assert_eq!(c.identical(), original == mutated);
    Ok(())
}
