//! Storage on fjall (placeholder while the crate is written).
