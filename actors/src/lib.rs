//! Actor system (placeholder while the crate is written).
