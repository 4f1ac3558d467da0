#!/usr/bin/env bash
# Miri over the test suite, with strict provenance. Called by `.ci/run` (which runs it
# on one core beside the other checks); runnable on its own: `bash .ci/miri.sh`.
#
# 1. Stacked borrows, default features (the std `Mutex` lock): every unit and integration
#    test target but the loom models.
# 2. Stacked borrows, all features: the targets whose code or tests change with features
#    (the critical-section lock, the embassy `RawMutex` locks of the lock-fault suite and
#    `repoll.rs`, the timer adapters, portable-atomic's atomics under the whole
#    `spec.rs`). The async-io tests are skipped under Miri (its reactor needs
#    `timerfd_create`, which Miri does not implement). The timeouts binary runs with
#    `-Zmiri-ignore-leaks` only because embassy-time's std driver starts a timer thread
#    that never exits (pass 1 checks the other timeout tests for leaks).
# 3. Tree borrows, default features: the targets that drive the intrusive list's unsafe
#    code through every path (unit tests, the contract, the batched drain, the fault
#    suite, the combinations).
#
# Every other target runs under Miri in pass 1; a pass is one `cargo miri test` each, so
# a failure names its binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { echo; echo "== miri [$(($(date +%s) - start))s] $*"; }
strict="-Zmiri-strict-provenance"

# Every test target: `tests/NAME.rs`, and the folder tests `tests/NAME/main.rs`.
all=()
for f in tests/*.rs tests/*/main.rs; do
  case "$f" in */main.rs) name="$(basename "$(dirname "$f")")" ;; *) name="$(basename "$f" .rs)" ;; esac
  case "$name" in loom | loom_matrix) ;; *) all+=(--test "$name") ;; esac
done

step "stacked borrows, default features: the unit tests and $((${#all[@]} / 2)) test targets"
MIRIFLAGS="$strict" cargo +nightly miri test --lib "${all[@]}"

step "stacked borrows, all features: the targets that change with features"
MIRIFLAGS="$strict" cargo +nightly miri test --all-features --lib \
  --test faults --test repoll --test combinations --test locks --test deadlines --test spec
MIRIFLAGS="$strict -Zmiri-ignore-leaks" cargo +nightly miri test --all-features --test timeouts

step "tree borrows, default features: the list's unsafe code on every path"
MIRIFLAGS="$strict -Zmiri-tree-borrows" cargo +nightly miri test --lib \
  --test spec --test drain --test faults --test combinations

step "miri done in $(($(date +%s) - start))s"
