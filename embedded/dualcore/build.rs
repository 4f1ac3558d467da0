//! Provides `memory.x` (../memory/mps2_an521.x: code in SSRAM1, data in SSRAM2) for
//! cortex-m-rt's `link.x`. Only `thumbv8m.main-none-eabi` (QEMU `mps2-an521`) is built.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    assert_eq!(
        target, "thumbv8m.main-none-eabi",
        "the dual-core firmware runs on the Cortex-M33 cores of mps2-an521 only"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("../memory/mps2_an521.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../memory/mps2_an521.x");
    println!("cargo:rerun-if-changed=build.rs");
}
