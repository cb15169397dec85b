//! repro: proves builds are reproducible — rebuilds with variations, compares the outputs
//! structurally, explains the differences and signs the verdict.

pub mod artifacts;
pub mod attest;
pub mod check;
pub mod cli;
pub mod compare;
pub mod deps;
pub mod diagnose;
pub mod engine;
pub mod escape;
pub mod fleet;
pub mod image;
pub mod inspect;
pub mod intoto;
pub mod plan;
pub mod provenance;
pub mod rebuild;
pub mod recipe;
pub mod report;
pub mod runner;
pub(crate) mod scratch;
#[cfg(test)]
mod shared_fixtures;
pub mod sigstore;
pub mod source;
pub mod units;
