//! The fault-injection harness.
pub mod inject;
