//! Everything that builds through the real Docker engine: builder images, the Docker backend,
//! `repro check` on the test-projects and through the binary, `repro build`/`rebuild`, git
//! checkouts, the key canary. Each engine test calls `common::skip_engine_test()` first.

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod canary;
mod check_projects;
mod cli_check;
mod dependencies;
mod docker_backend;
mod fleet;
mod fleet_engines;
mod fleet_ssh;
mod image;
mod real_projects;
mod rebuild;
mod source_commit;
mod with_git;
