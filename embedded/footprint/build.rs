//! Provides `memory.x` (the firmware's, in `../memory/`) for cortex-m-rt's `link.x` and a
//! `chip` cfg: the LM3S6965 (`thumbv7m-none-eabi`, QEMU `lm3s6965evb`) or core 0 of the
//! SSE-200 (`thumbv8m.main-none-eabi`, QEMU `mps2-an521`).

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap();
    let (chip, memory) = match target.as_str() {
        "thumbv7m-none-eabi" => ("lm3s6965", "lm3s6965.x"),
        "thumbv8m.main-none-eabi" => ("an521", "mps2_an521.x"),
        other => panic!(
            "the footprint is measured on thumbv7m-none-eabi (lm3s6965evb) and \
             thumbv8m.main-none-eabi (mps2-an521), not {other}"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy(format!("../memory/{memory}"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-check-cfg=cfg(chip, values(\"lm3s6965\", \"an521\"))");
    println!("cargo:rustc-cfg=chip=\"{chip}\"");
    println!("cargo:rerun-if-changed=../memory/{memory}");
    println!("cargo:rerun-if-changed=build.rs");
}
