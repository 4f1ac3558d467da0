//! Provides `memory.x` (the LM3S6965's, shared with the firmware in `..`) for cortex-m-rt's
//! `link.x`. Only `thumbv7m-none-eabi` is measured.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    assert_eq!(
        target, "thumbv7m-none-eabi",
        "the footprint is measured on thumbv7m-none-eabi (lm3s6965evb) only"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("../memory/lm3s6965.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../memory/lm3s6965.x");
    println!("cargo:rerun-if-changed=build.rs");
}
