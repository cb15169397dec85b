//! Rebuilder fleets: batches of jobs (checks and rebuilds) over several Docker engines, with
//! results in a store that survives a crash of the coordinator, and a dashboard of them.
//! `fleet` calls the orchestrators (`check`, `rebuild`); it never prints.

pub mod coordinator;
pub mod engines;
pub mod job;
pub mod store;

pub use coordinator::{Batch, Event, Events, FleetError, Summary};
pub use job::{Job, JobError, JobKind, JobRecord, JobState, Outcome};
pub use store::{DbUrl, Store, StoreError};
