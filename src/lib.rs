//! repro: proves builds are reproducible — rebuilds with variations, compares the outputs
//! structurally, explains the differences and signs the verdict.

pub mod compare;
pub mod runner;

// Temporary, until the CLI module (src/cli/mod.rs) lands from its own branch.
pub mod cli {
    pub mod image;
}
