//! The binary and the library without an engine: `repro diff` and its reports (HTML in a real
//! browser), keys, attestations and their verification, cosign keys, provenance parsing.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../src/shared_fixtures.rs"]
#[allow(dead_code)]
mod shared_fixtures;

mod attest;
mod check_source;
mod cli_diff;
mod cli_keys;
mod cosign_key;
mod fleet;
mod help;
mod html_report;
mod keyless;
mod provenance;
