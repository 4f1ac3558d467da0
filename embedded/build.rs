//! Picks the chip from the target: its `memory.x` for cortex-m-rt's `link.x`, and a
//! `chip` cfg for the few lines of firmware that differ between chips.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    let chip = match target.as_str() {
        "thumbv7m-none-eabi" => "lm3s6965",
        "thumbv6m-none-eabi" => "nrf51",
        other => panic!(
            "no firmware for target {other}: build with \
             --target thumbv7m-none-eabi (lm3s6965evb) or thumbv6m-none-eabi (microbit)"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy(format!("memory/{chip}.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-check-cfg=cfg(chip, values(\"lm3s6965\", \"nrf51\"))");
    println!("cargo:rustc-cfg=chip=\"{chip}\"");
    println!("cargo:rerun-if-changed=memory/{chip}.x");
    println!("cargo:rerun-if-changed=build.rs");
}
