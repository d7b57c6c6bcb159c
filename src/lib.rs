//! Geminga broker library (placeholder while the crate is written).
