//! Runners: where builds execute. The pinned builder images (`image`), the Docker backend
//! (`docker`, through bollard) and what a run's container is given (`workspace`).

pub mod docker;
pub mod image;
pub mod workspace;
