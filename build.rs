//! Detects what the compiler offers beyond the crate's MSRV (Rust 1.70), so one source
//! builds on every supported toolchain:
//! - `has_core_error`: `core::error::Error` (Rust 1.81), so `TimedOut` implements it even
//!   without `std`.
//! - `has_waker_raw`: `Waker::data` and `Waker::vtable` (Rust 1.83), so a queued wait's
//!   waker identity can be checked without the lock (a lock-free re-poll).

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let minor = rustc_minor();
    if minor.is_some_and(|minor| minor >= 81) {
        println!("cargo:rustc-cfg=has_core_error");
    }
    if minor.is_some_and(|minor| minor >= 83) {
        println!("cargo:rustc-cfg=has_waker_raw");
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
