#!/usr/bin/env bash
# Builds the firmware and runs it under QEMU on all three chips, failing if any scenario
# fails or the firmware hangs:
#   Cortex-M3: qemu-system-arm -machine lm3s6965evb (thumbv7m-none-eabi)
#   Cortex-M0: qemu-system-arm -machine microbit    (thumbv6m-none-eabi, no compare-and-swap)
#   2 x Cortex-M33: qemu-system-arm -machine mps2-an521 (thumbv8m.main-none-eabi, dualcore/:
#              both cores racing under multi-threaded TCG; a release build and a debug build)
# The QEMU runners come from .cargo/config.toml; the firmware ends QEMU through semihosting
# with status 0 only when every check held. Installs what it needs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo "-- [$(($(date +%s) - start))s] $*"; }

targets=(thumbv7m-none-eabi thumbv6m-none-eabi)
dualcore_target=thumbv8m.main-none-eabi

step "tools"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi
qemu-system-arm --version | head -n 1
rustup target add "${targets[@]}" "$dualcore_target"

step "format and lints"
cargo fmt --check
for target in "${targets[@]}"; do
  cargo clippy --release --target "$target" --bins -- -D warnings
done
# dualcore/ is its own Cargo project (its .cargo/config.toml sets the target).
(cd dualcore && cargo fmt --check && cargo clippy --release -- -D warnings && cargo clippy -- -D warnings)

for target in "${targets[@]}"; do
  step "build for $target"
  cargo build --release --target "$target" --bins
  step "run on $target"
  # `cargo run` execs the QEMU runner, so `timeout` stops QEMU itself if the firmware hangs.
  status=0
  timeout 120 cargo run --release --target "$target" --bin scenarios || status=$?
  if [ "$status" -ne 0 ]; then
    if [ "$status" -eq 124 ]; then
      echo "firmware on $target: hung, stopped after 120 s" >&2
    else
      echo "firmware on $target: failed (exit status $status)" >&2
    fi
    exit 1
  fi
done

# run_firmware <what> <seconds> <cargo run args...>: fails on a failed check or a hang.
run_firmware() {
  local what=$1 limit=$2
  shift 2
  local status=0
  timeout "$limit" "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    if [ "$status" -eq 124 ]; then
      echo "firmware on $what: hung, stopped after $limit s" >&2
    else
      echo "firmware on $what: failed (exit status $status)" >&2
    fi
    exit 1
  fi
}

step "build for $dualcore_target (dualcore/: release and debug)"
(cd dualcore && cargo build --release && cargo build)
# Both cores race under multi-threaded TCG: 15-40 s on a loaded 2-core machine. The
# debug build runs only the scenario that ends in the crate's spin-lock panic (a few s).
step "run on $dualcore_target (2 x Cortex-M33, release build)"
(cd dualcore && run_firmware "$dualcore_target (release)" 300 cargo run --release)
step "run on $dualcore_target (2 x Cortex-M33, debug build)"
(cd dualcore && run_firmware "$dualcore_target (debug)" 120 cargo run)

step "firmware passed on ${targets[*]} $dualcore_target"
