#!/usr/bin/env bash
# Footprint of async-completion and its peers on a Cortex-M3 (issue 11, SPEC §5).
# Builds every binary of this folder (thumbv7m-none-eabi, release: opt-level "s", fat LTO,
# one codegen unit), runs each under QEMU lm3s6965evb (each must exit 0 within 60 s),
# and prints a Markdown table of flash (.text + .rodata) and RAM (.data + .bss) added over
# the baseline binary, in bytes. Usage: bash embedded/footprint/measure.sh
set -euo pipefail
cd "$(dirname "$0")"
TARGET=thumbv7m-none-eabi
BINS="baseline ours_a ours_b maitake_a maitake_b fairsem_a fairsem_b signal_a signal_b"

rustup target add "$TARGET" >/dev/null 2>&1 || true
SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -1 || true)
if [ -z "$SIZE" ]; then
    rustup component add llvm-tools >/dev/null
    SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size | head -1)
fi

cargo build --release --target "$TARGET" --bins --locked

declare -A FLASH RAM
for bin in $BINS; do
    elf="target/$TARGET/release/$bin"
    if ! timeout 60 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
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
    echo "ran $bin: exit 0; flash $flash B, RAM $ram B" >&2
done

b_flash=${FLASH[baseline]}
b_ram=${RAM[baseline]}
echo
echo "Baseline (harness, no primitive): flash ${b_flash} B (.text + .rodata), RAM ${b_ram} B (.data + .bss)."
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
