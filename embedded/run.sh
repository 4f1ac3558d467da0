#!/usr/bin/env bash
# Builds the firmware and runs it under QEMU on both chips, failing if any scenario fails
# or the firmware hangs:
#   Cortex-M3: qemu-system-arm -machine lm3s6965evb (thumbv7m-none-eabi)
#   Cortex-M0: qemu-system-arm -machine microbit    (thumbv6m-none-eabi, no compare-and-swap)
# The QEMU runners come from .cargo/config.toml; the firmware ends QEMU through semihosting
# with status 0 only when every check held. Installs what it needs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo "-- [$(($(date +%s) - start))s] $*"; }

targets=(thumbv7m-none-eabi thumbv6m-none-eabi)

step "tools"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi
qemu-system-arm --version | head -n 1
rustup target add "${targets[@]}"

step "format and lints"
cargo fmt --check
for target in "${targets[@]}"; do
  cargo clippy --release --target "$target" --bins -- -D warnings
done

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

step "firmware passed on ${targets[*]}"
