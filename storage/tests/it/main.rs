//! Integration tests of geminga-storage against a real fjall database in a tempdir.

// Shared helpers outside `#[test]` fns panic on failure just like the tests that call them.
#![allow(clippy::unwrap_used, reason = "test helpers")]

mod common;
mod cursors;
mod delayed;
mod faults;
mod log;
mod metadata;
mod topics;
mod write;
