//! Detects what the compiler offers beyond the crate's MSRV (Rust 1.70), so one source
//! builds on every supported toolchain:
//! - `has_core_error`: `core::error::Error` (Rust 1.81), so `TimedOut` implements it even
//!   without `std`.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    if rustc_minor().is_some_and(|minor| minor >= 81) {
        println!("cargo:rustc-cfg=has_core_error");
    }
}

/// The minor version of the compiler cargo builds with (`rustc 1.NN.P ...`).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
