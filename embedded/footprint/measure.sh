#!/usr/bin/env bash
# Footprint of async-completion and its peers on a Cortex-M3 and a Cortex-M33 (issue 11,
# SPEC §5). For each target, builds every binary of this folder (release: opt-level "s",
# fat LTO, one codegen unit), runs each under QEMU (each must exit 0 within 60 s):
#   thumbv7m-none-eabi       lm3s6965evb (Cortex-M3)
#   thumbv8m.main-none-eabi  mps2-an521  (Cortex-M33, core 0; core 1 stays in CPUWAIT)
# and prints a Markdown table of flash (.text + .rodata) and RAM (.data + .bss) added over
# the baseline binary, in bytes.
# Usage: bash embedded/footprint/measure.sh [target...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=(thumbv7m-none-eabi thumbv8m.main-none-eabi); fi
BINS="baseline ours_a ours_b maitake_a maitake_b fairsem_a fairsem_b signal_a signal_b"

rustup target add "${TARGETS[@]}" >/dev/null 2>&1 || true
SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -1 || true)
if [ -z "$SIZE" ]; then
    rustup component add llvm-tools >/dev/null
    SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size | head -1)
fi

for TARGET in "${TARGETS[@]}"; do
  case "$TARGET" in
    thumbv7m-none-eabi) MACHINE=(-cpu cortex-m3 -machine lm3s6965evb); NAME="Cortex-M3 (lm3s6965evb)" ;;
    thumbv8m.main-none-eabi) MACHINE=(-machine mps2-an521 -monitor none -serial none); NAME="Cortex-M33 (mps2-an521)" ;;
    *) echo "no QEMU machine for $TARGET" >&2; exit 1 ;;
  esac
  cargo build --release --target "$TARGET" --bins --locked

  declare -A FLASH RAM
  for bin in $BINS; do
      elf="target/$TARGET/release/$bin"
      if ! timeout 60 qemu-system-arm "${MACHINE[@]}" -nographic \
          -semihosting-config enable=on,target=native -kernel "$elf" 2>/dev/null </dev/null; then
          echo "FAIL: $bin did not exit 0 under QEMU" >&2
          exit 1
      fi
      # llvm-size -A: "section size addr" rows.
      read -r flash ram < <("$SIZE" -A "$elf" | awk '
          $1 == ".text" || $1 == ".rodata" { f += $2 }
          $1 == ".data" || $1 == ".bss"    { r += $2 }
          END { print f + 0, r + 0 }')
      FLASH[$bin]=$flash
      RAM[$bin]=$ram
      echo "ran $bin on $TARGET: exit 0; flash $flash B, RAM $ram B" >&2
  done

  b_flash=${FLASH[baseline]}
  b_ram=${RAM[baseline]}
  echo
  echo "$NAME. Baseline (harness, no primitive): flash ${b_flash} B (.text + .rodata), RAM ${b_ram} B (.data + .bss)."
  echo
  echo "| implementation | (a) flash | (a) RAM | (b) flash | (b) RAM |"
  echo "|---|---:|---:|---:|---:|"
  row() {
      local name=$1 p=$2
      printf '| %s | %+d | %+d | %+d | %+d |\n' "$name" \
          $((FLASH[${p}_a] - b_flash)) $((RAM[${p}_a] - b_ram)) \
          $((FLASH[${p}_b] - b_flash)) $((RAM[${p}_b] - b_ram))
  }
  row 'async-completion `Completion<CriticalSectionLock>`' ours
  row 'maitake-sync `WaitQueue` (critical-section)' maitake
  row 'embassy-sync `FairSemaphore<CriticalSectionRawMutex, 1>`' fairsem
  row 'embassy-sync `Signal<CriticalSectionRawMutex, ()>` (reference)' signal
done
