#!/usr/bin/env bash
# Instructions per operation of the single-threaded scenarios, for async-completion and
# each peer, counted by callgrind (deterministic, unlike wall-clock timings).
#
#   benches/callgrind.sh                 # every scenario/implementation pair
#   benches/callgrind.sh handoff_one     # only the pairs whose scenario matches
#
# Each pair runs the `fastpath_counts` binary of the benches project
# (benches/src/bin/fastpath_counts.rs; benches/ is its own workspace, built into
# benches/target unless CARGO_TARGET_DIR says otherwise) twice under
# `valgrind --tool=callgrind`, with N1 and N2 repetitions; (Ir(N2) - Ir(N1)) / (N2 - N1) is
# the instruction count of one repetition, with start-up and tear-down cancelled out. The scenario code is the one the criterion
# benches time (benches/benches/ops/mod.rs). Output: a Markdown table on stdout.
set -euo pipefail

cd "$(dirname "$0")"
N1=${N1:-10000}
N2=${N2:-110000}
filter=${1:-}

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cargo build --release --bin fastpath_counts >&2
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/fastpath_counts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions executed ("summary:" line of the callgrind output file).
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$@" >/dev/null 2>&1
    awk '/^summary:/ { print $2 }' "$tmp/out"
}

echo "| scenario | implementation | instructions per iteration |"
echo "|---|---|---:|"
"$bin" list | while read -r scenario implementation; do
    [[ -z "$filter" || "$scenario" == *"$filter"* ]] || continue
    a=$(instructions "$scenario" "$implementation" "$N1")
    b=$(instructions "$scenario" "$implementation" "$N2")
    per=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
    echo "| $scenario | $implementation | $per |"
done
