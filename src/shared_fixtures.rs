//! Tests' access to real third-party data (published provenance, bundles, keys) kept outside
//! the repository in `shared/fixtures` beside the checkout; `REPRO_SHARED_FIXTURES` points at
//! another copy. Tests skip, saying why, where it is absent.

use std::path::PathBuf;

/// The path of `relative` under the shared fixtures, or `None` (with the reason printed) when
/// the fixtures are not there.
pub(crate) fn path(relative: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("REPRO_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let path = dir.join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: no shared fixture {} (set REPRO_SHARED_FIXTURES to a copy of shared/fixtures)",
            path.display()
        );
        None
    }
}

/// The bytes of a shared fixture, or `None` as for [`path`].
pub(crate) fn read(relative: &str) -> Option<Vec<u8>> {
    let path = path(relative)?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// slsa-verifier's test data folder.
pub(crate) const SLSA_VERIFIER: &str = "provenance/slsa-framework+slsa-verifier/cli/slsa-verifier/testdata";
