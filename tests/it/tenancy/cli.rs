//! The `geminga admin` CLI, run as the real binary against an in-process broker.
