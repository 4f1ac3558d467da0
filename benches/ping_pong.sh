#!/usr/bin/env bash
# The OS-thread benchmarks, quiet or beside a CPU-bound load, in one command:
#
#   benches/ping_pong.sh quiet        # the machine as it is (say how quiet it was: the
#                                     # load average is recorded before and after)
#   benches/ping_pong.sh loaded       # beside one busy loop per CPU, started and stopped
#                                     # here
#   RUNS=9 benches/ping_pong.sh quiet # more runs (default 5)
#
# Each run is one `cargo bench --bench completion` of the groups `ping_pong_threads` and
# `contended_threads` (async-completion's wait_blocking, std Mutex + Condvar, parking_lot
# Mutex + Condvar; ALL=1 adds async-lock and event-listener), all in the same run; the
# table gives, per row, the median over the runs of criterion's median, and the range.
# Then `perf stat` (if it works here) of 20 000 round trips of ping_pong_threads per
# implementation, median of the runs: task-clock (CPU time of both threads) and context
# switches, where the time goes. Output: a Markdown report on stdout and in
# benches/results/ping_pong_<mode>.md; a run takes about 1 minute.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-}
[[ $mode == quiet || $mode == loaded ]] || { echo "usage: $0 quiet|loaded" >&2; exit 2; }
runs=${RUNS:-5}
impls='async_completion|std_mutex_condvar|parking_lot_mutex_condvar'
[[ -n ${ALL:-} ]] && impls="$impls|async_lock_semaphore|event_listener_counter"
filter="^(ping_pong_threads|contended_threads)/($impls)\$"

target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export CRITERION_HOME="$target/criterion"
cargo bench --bench completion --no-run 2>/dev/null
cargo build --release --bin threads 2>/dev/null
bin="$target/release/threads"

load() { cut -d' ' -f1-3 /proc/loadavg; }
tmp=$(mktemp -d)
busy=()
cleanup() {
    for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
load_before=$(load)
if [[ $mode == loaded ]]; then
    # One CPU-bound busy loop per CPU, for the whole measurement.
    for _ in $(seq "$(nproc)"); do
        bash -c 'while :; do :; done' &
        busy+=($!)
    done
    sleep 2
fi

for run in $(seq "$runs"); do
    echo "ping_pong.sh: run $run of $runs ($mode, load $(load))" >&2
    rm -rf "$CRITERION_HOME/ping_pong_threads" "$CRITERION_HOME/contended_threads"
    cargo bench --bench completion -- "$filter" >"$tmp/criterion.log" 2>&1 ||
        { cat "$tmp/criterion.log" >&2; exit 1; }
    python3 - "$CRITERION_HOME" "$tmp/runs.jsonl" <<'EOF'
import json, sys
from pathlib import Path
base, out = Path(sys.argv[1]), sys.argv[2]
row = {}
for group in ("ping_pong_threads", "contended_threads"):
    for est in (base / group).glob("*/new/estimates.json"):
        row[f"{group}/{est.parent.parent.name}"] = json.loads(est.read_text())["median"]["point_estimate"]
with open(out, "a") as f:
    f.write(json.dumps(row) + "\n")
EOF
done

perf_ok=false
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
    perf_ok=true
    for run in $(seq "$runs"); do
        for imp in async_completion std_mutex_condvar parking_lot_mutex_condvar; do
            perf stat -x, -e task-clock,context-switches "$bin" ping_pong_threads "$imp" 20000 \
                >"$tmp/out" 2>&1
            python3 - "$imp" "$tmp/out" "$tmp/perf.jsonl" <<'EOF'
import json, re, sys
imp, out = sys.argv[1], open(sys.argv[2]).read()
us = float(re.search(r"([0-9.]+) us per round", out).group(1))
stat = {}
for line in out.splitlines():
    f = line.split(",")
    if len(f) > 2 and f[2] in ("task-clock", "context-switches"):
        stat[f[2]] = float(f[0])
with open(sys.argv[3], "a") as o:
    o.write(json.dumps({"impl": imp, "us": us, **stat}) + "\n")
EOF
        done
    done
fi
load_after=$(load)

python3 - "$mode" "$runs" "$load_before" "$load_after" "$(nproc)" "$perf_ok" "$tmp" \
    "$(git -C .. rev-parse --short HEAD)" <<'EOF' | tee "results/ping_pong_$mode.md"
import json, statistics, sys
mode, runs, before, after, nproc, perf_ok, tmp, commit = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{tmp}/runs.jsonl")]
print(f"## OS threads, {mode}: medians of {runs} runs (commit {commit})\n")
print(f"{nproc} CPUs; load average (1, 5, 15 min) before: {before}; after: {after}"
      + ("; beside one busy loop per CPU" if mode == "loaded" else "") + ".\n")
print("| scenario | implementation | median | range over the runs |")
print("|---|---|---:|---|")
unit = {"ping_pong_threads": "per round trip", "contended_threads": "per round (4 completions)"}
for key in sorted({k for r in rows for k in r}, key=lambda k: (k.split("/")[0] != "ping_pong_threads", k)):
    vals = [r[key] / 1000 for r in rows if key in r]
    group, imp = key.split("/")
    print(f"| {group} ({unit[group]}) | {imp} | {statistics.median(vals):.2f} µs | "
          f"{min(vals):.2f}–{max(vals):.2f} µs |")
if perf_ok == "true":
    perf = [json.loads(l) for l in open(f"{tmp}/perf.jsonl")]
    print(f"\n`perf stat`, 20 000 round trips of ping_pong_threads, medians of {runs} runs:\n")
    print("| implementation | µs per round trip | task-clock | context switches |")
    print("|---|---:|---:|---:|")
    for imp in ("async_completion", "std_mutex_condvar", "parking_lot_mutex_condvar"):
        p = [x for x in perf if x["impl"] == imp]
        med = lambda f: statistics.median(x[f] for x in p if f in x)
        print(f"| {imp} | {med('us'):.2f} | {med('task-clock'):.0f} ms | {med('context-switches'):.0f} |")
EOF
