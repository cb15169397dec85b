//! repro: proves builds are reproducible — rebuilds with variations, compares the outputs
//! structurally, explains the differences and signs the verdict.

pub mod compare;
pub mod runner;
