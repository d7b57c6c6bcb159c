//! The `geminga` binary.
fn main() {}
