#!/usr/bin/env bash
# Every user's build (issue 10): the MSRV per feature, the feature powerset, and a user
# crate proving features are additive. Called by `.ci/run`; runnable on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "== compat [$(( $(date +%s) - start ))s] $*"; }

step "tools: cargo-hack, the MSRV toolchain (1.85) and embassy-sync's (1.87)"
command -v cargo-hack >/dev/null || cargo install --locked cargo-hack
for v in 1.85 1.87; do rustup toolchain install "$v" --profile minimal --no-self-update; done
# (thumbv8m.main-none-eabi's std for 1.85 is not offered by this machine's rustup mirror:
# that target is built with stable in .ci/run.)
rustup target add --toolchain 1.85 thumbv7em-none-eabihf thumbv6m-none-eabi
# The lock file is resolved for the MSRV (`.cargo/config.toml`: incompatible-rust-versions
# = "fallback"), so the 1.85 toolchain reads and builds it as committed.

step "MSRV 1.85: the library, every combination of its features but embassy-sync"
# `--rust-version` runs the `rust-version` toolchain of Cargo.toml.
cargo hack check --rust-version --no-dev-deps --lib --feature-powerset \
  --include-features std,alloc,critical-section,portable-atomic,defmt --group-features tokio,async-io,embassy-time
step "MSRV 1.85: no_std targets"
cargo +1.85 build --lib --target thumbv7em-none-eabihf --no-default-features --features critical-section,embassy-time,defmt
RUSTFLAGS="--cfg portable_atomic_unsafe_assume_single_core" \
  cargo +1.85 build --lib --target thumbv6m-none-eabi --no-default-features --features critical-section,portable-atomic

step "MSRV 1.85: the whole test suite (unit, integration and doc tests, examples), dev-dependencies included"
# One run with every feature but embassy-sync (a superset of the default features'
# tests; the default-feature run is `cargo test` on stable in .ci/run).
CARGO_TARGET_DIR=target/msrv cargo +1.85 test \
  --features critical-section,portable-atomic,tokio,async-io,embassy-time,alloc,defmt

step "embassy-sync's MSRV: 1.87"
cargo +1.87 hack check --no-dev-deps --lib --no-default-features --features embassy-sync,critical-section

step "feature powerset (stable, warnings denied): the library, adapters grouped"
export RUSTFLAGS="-D warnings"
# `defmt` goes with `embassy-sync` here (firmware takes both); each alone is checked below.
CARGO_TARGET_DIR=target/powerset cargo hack check --feature-powerset --no-dev-deps --lib \
  --group-features tokio,async-io,embassy-time --group-features embassy-sync,defmt
step "each feature alone, every target (tests, examples), warnings denied"
# But `deprecated`: on an OS without `std`, `Completion::new()` warns (the library trap of
# the crate docs' "Using it in a library"), and the tests here mean that spinlock.
RUSTFLAGS="-D warnings -A deprecated" CARGO_TARGET_DIR=target/powerset cargo hack check --each-feature --all-targets
unset RUSTFLAGS

step "additive: a std user crate with critical-section on and no critical-section implementation"
cargo run --manifest-path .ci/additive/Cargo.toml
cargo run --release --manifest-path .ci/additive/Cargo.toml

step "compat done in $(( $(date +%s) - start ))s"
