//! Runners: where builds execute. The Docker backend talks to the engine through bollard; a
//! local backend runs plain processes and is labelled unisolated in every report.

pub mod docker;
pub mod workspace;
