#!/usr/bin/env bash
# The whole benchmark pipeline, one command:
#
#   benches/run.sh              # criterion (every group), callgrind, docs/chart.svg, BENCHMARKS.md
#   benches/run.sh handoff      # only the criterion groups and callgrind scenarios matching
#
# 1. records the run's facts (commit, whether src/ has uncommitted changes, rustc, load)
#    in benches/results/run.json;
# 2. `cargo bench --manifest-path benches/Cargo.toml` (criterion; a full run takes about
#    6 minutes on 2 cores), after clearing criterion's old estimates (a full run only);
# 3. `benches/callgrind.sh` into benches/results/callgrind.md (needs valgrind; about
#    5 minutes, most of it in the select_loop and repoll_queued rows);
# 4. `benches/report.py`: benches/results/medians.json, docs/chart.svg and the
#    generated parts of BENCHMARKS.md (summary, results, callgrind, run).
#
# SKIP_CRITERION=1 or SKIP_CALLGRIND=1 leave a step out (the report then uses the
# estimates / counts already there). Commit the results with the code they measured.
set -euo pipefail
cd "$(dirname "$0")"
filter=${1:-}
results=results
mkdir -p "$results"

target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export CRITERION_HOME="$target/criterion"

load() { cut -d' ' -f1-3 /proc/loadavg; }
commit=$(git -C .. rev-parse --short HEAD)
dirty=false
if [[ -n "$(git -C .. status --porcelain -- src Cargo.toml build.rs)" ]]; then
    dirty=true
    echo "run.sh: src/ has uncommitted changes; the figures will say so" >&2
fi
started=$(date +%s)
load_before=$(load)

criterion_seconds=skipped
if [[ -z "${SKIP_CRITERION:-}" ]]; then
    [[ -n "$filter" ]] || rm -rf "$CRITERION_HOME"
    cargo bench --bench completion --no-run
    t0=$(date +%s)
    cargo bench --bench completion -- ${filter:+"$filter"}
    criterion_seconds=$(( $(date +%s) - t0 ))
fi

callgrind_seconds=skipped
if [[ -z "${SKIP_CALLGRIND:-}" ]]; then
    cargo build --release --bin fastpath_counts
    t0=$(date +%s)
    bash callgrind.sh "$filter" > "$results/callgrind.md.new"
    mv "$results/callgrind.md.new" "$results/callgrind.md"
    callgrind_seconds=$(( $(date +%s) - t0 ))
fi

python3 - "$results/run.json" <<EOF
import json, sys
json.dump({
    "commit": "$commit",
    "dirty": $( $dirty && echo True || echo False ),
    "rustc": "$(rustc --version)",
    "date": "$(date -u -d "@$started" '+%Y-%m-%d %H:%M UTC')",
    "started_epoch": $started,
    "nproc": $(nproc),
    "cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -1)",
    "kernel": "$(uname -r)",
    "load_before": "$load_before",
    "load_after": "$(load)",
    "criterion_seconds": "$criterion_seconds",
    "callgrind_seconds": "$callgrind_seconds",
    "filter": "$filter",
}, open(sys.argv[1], "w"), indent=1)
EOF

# A partial run keeps the other groups' older estimates: don't call them stale.
if [[ -n "$filter" || -n "${SKIP_CRITERION:-}" ]]; then
    python3 - "$results/run.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d.pop("started_epoch")
json.dump(d, open(p, "w"), indent=1)
EOF
fi

python3 report.py
