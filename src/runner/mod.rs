//! runner: where builds run. So far the pinned builder images (`image`); the `Backend` trait
//! and the Docker backend come next.

pub mod image;
