//! Pulsar wire protocol (placeholder while the crate is written).
