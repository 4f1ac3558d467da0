#!/usr/bin/env python3
"""Tables and chart of the peer benchmarks, from criterion's saved estimates.

    python3 benches/report.py                    # after `cargo bench`: read the estimates
    python3 benches/report.py --from-snapshot    # from benches/results/medians.json
    python3 benches/report.py --print            # print the tables, change no file

Reads the median of every benchmark, `<criterion>/<group>/<implementation>/new/
estimates.json` (`median.point_estimate`, ns per iteration; `benchmark.json` beside it
gives the throughput, if any), where `<criterion>` is `$CRITERION_HOME`, else
`$CARGO_TARGET_DIR/criterion`, else `benches/target/criterion`. With the instruction
counts of `benches/results/callgrind.md` (the output of `benches/callgrind.sh`) and the
run's facts in `benches/results/run.json` (both written by `benches/run.sh`), it

- saves the medians to `benches/results/medians.json` (so the tables and the chart can be
  made again without re-running the benches: `--from-snapshot`);
- writes `docs/chart.svg`: for each scenario, each peer's median time divided by
  async-completion's, as a horizontal bar from 1.0 on a log scale;
- rewrites the generated parts of BENCHMARKS.md, between the markers
  `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`, NAME being
  `summary`, `results`, `callgrind` and `run`.

Only the Python 3 standard library is used.
"""

import argparse
import html
import json
import math
import os
import re
import sys
from pathlib import Path

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent
RESULTS = BENCHES / "results"
SNAPSHOT = RESULTS / "medians.json"
CALLGRIND = RESULTS / "callgrind.md"
RUN = RESULTS / "run.json"
CHART = ROOT / "docs" / "chart.svg"  # shipped in the package: the crate docs inline it
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"

OURS = "async_completion"
FLOOR = "floor_atomics"

# Columns of the results table (criterion benchmark ids), in order, with the names used
# in the chart and in the "best peer" column.
IMPLS = [
    (OURS, "async-completion", "ours"),
    ("tokio_notify", "tokio Notify", "Notify"),
    ("tokio_semaphore", "tokio Semaphore", "tokio Semaphore"),
    ("async_lock_semaphore", "async-lock Semaphore", "async-lock"),
    ("maitake_waitqueue", "maitake-sync WaitQueue", "maitake"),
    ("event_listener", "event-listener", "event-listener"),
    ("event_listener_counter", "event-listener + counter", "event-listener + counter"),
    (FLOOR, "raw-atomic floor", "floor"),
]
THREAD_IMPLS = [
    (OURS, "async-completion wait_blocking", "ours"),
    ("parking_lot_mutex_condvar", "parking_lot Mutex + Condvar", "parking_lot"),
    ("std_mutex_condvar", "std Mutex + Condvar", "std"),
    ("async_lock_semaphore", "async-lock acquire_blocking", "async-lock"),
    ("event_listener_counter", "event-listener + counter", "event-listener + counter"),
]
LABEL = {k: v for k, v, _ in IMPLS}
THREAD_LABEL = {k: v for k, v, _ in THREAD_IMPLS}
SHORT = {k: v for k, _, v in IMPLS + THREAD_IMPLS}

# Criterion groups of the main table, in order, with the unit of the figure shown.
# Throughput groups are shown per element (`Throughput::Elements`).
GROUPS = [
    ("bank_then_take", "per op"),
    ("complete_try_wait", "per op"),
    ("handoff_one", "per op"),
    ("repoll_queued", "per sequence: queue, 8 re-polls, hand-off"),
    ("wait_or_ready", "per op"),
    ("wait_timeout_ready", "per op"),
    ("select_loop", "per loop: 8 wins of the other branch, then the completion"),
    ("repoll_queued_current_thread", "as repoll_queued, in a task of tokio's current-thread runtime"),
    ("select_loop_current_thread", "as select_loop, in a task of tokio's current-thread runtime"),
    ("fifo_chain_1000", "per waiter"),
    ("broadcast_1000", "per waiter"),
    ("broadcast_10000", "per waiter"),
    ("ping_pong_tasks", "per round trip"),
    ("contended", "per completion"),
]
# The OS-thread groups (columns: THREAD_IMPLS), with the unit of the figure shown (the
# whole iteration: `contended_threads` is shown per round, not per completion).
THREAD_GROUPS = [
    ("ping_pong_threads", "per round trip"),
    ("contended_threads", "per round: 4 completions, 4 answers"),
]
REPOLLS = 8  # ops::REPOLLS
DERIVED_REPOLL = "repoll_queued − handoff_one, ÷ 8"

MARK = re.compile(
    r"(<!-- BEGIN generated: (\w+) -->\n)(.*?)(<!-- END generated: \2 -->)", re.S
)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def criterion_dir():
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    return BENCHES / "target" / "criterion"


def read_criterion(base, run):
    """{group: {impl: {"median_ns", "elements"}}} from criterion's `new/` estimates."""
    started = run.get("started_epoch")
    medians, stale = {}, []
    groups = [g for g, _ in GROUPS] + [g for g, _ in THREAD_GROUPS]
    for group in groups:
        gdir = base / group
        if not gdir.is_dir():
            continue
        for idir in sorted(p for p in gdir.iterdir() if p.is_dir()):
            est = idir / "new" / "estimates.json"
            if not est.is_file():
                continue
            if started and est.stat().st_mtime < started:
                stale.append(f"{group}/{idir.name}")
                continue
            median = json.loads(est.read_text())["median"]["point_estimate"]
            elements = None
            bench = idir / "new" / "benchmark.json"
            if bench.is_file():
                tp = json.loads(bench.read_text()).get("throughput") or {}
                elements = tp.get("Elements")
            medians.setdefault(group, {})[idir.name] = {
                "median_ns": median,
                "elements": elements,
            }
    if stale:
        print(
            "report.py: left out, older than this run (run.json): " + ", ".join(stale),
            file=sys.stderr,
        )
    return medians


def read_callgrind():
    """{scenario: {impl: instructions}} from callgrind.sh's Markdown table."""
    counts = {}
    if not CALLGRIND.is_file():
        return counts
    for line in CALLGRIND.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            continue
        try:
            value = float(cells[2])
        except ValueError:
            continue
        counts.setdefault(cells[0], {})[cells[1]] = value
    return counts


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def per_unit(entry):
    """The figure shown for a benchmark: the median, per element for throughput groups."""
    return entry["median_ns"] / (entry["elements"] or 1)


def figures(medians):
    """{row: {impl: ns}}: every group of the main table, and the derived re-poll row."""
    rows = {}
    for group, _ in GROUPS:
        if group in medians:
            rows[group] = {i: per_unit(e) for i, e in medians[group].items()}
    rq, ho = rows.get("repoll_queued", {}), rows.get("handoff_one", {})
    derived = {i: (rq[i] - ho[i]) / REPOLLS for i in rq if i in ho}
    if derived:
        rows[DERIVED_REPOLL] = derived
    return rows


def best_peer(values):
    peers = [(v, k) for k, v in values.items() if k not in (OURS, FLOOR) and k in SHORT]
    return min(peers) if peers else None


def fmt_time(ns):
    if ns < 0:
        return "−" + fmt_time(-ns)
    for unit, scale in (("ns", 1), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)):
        v = ns / scale
        if abs(v) < 1000 or unit == "s":
            break
    if abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return f"{s} {unit}"


def fmt_ratio(r):
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def fmt_count(x):
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def results_table(medians):
    rows = figures(medians)
    units = dict(GROUPS)
    units[DERIVED_REPOLL] = "per re-poll, derived"
    cols = [k for k, _, _ in IMPLS]
    out = [
        "| scenario (unit) | " + " | ".join(cols) + " | ours / best peer | ours / floor |",
        "|---|" + "---:|" * (len(cols) + 2),
    ]
    order = [g for g, _ in GROUPS if g in rows]
    if DERIVED_REPOLL in rows:
        order.insert(order.index("repoll_queued") + 1, DERIVED_REPOLL)
    for row in order:
        values = rows[row]
        best = best_peer(values)
        cells = []
        for k in cols:
            if k not in values:
                cells.append("—")
                continue
            # A derived difference at or below zero: the re-polls cost less than the
            # run's noise between the two groups.
            text = fmt_time(values[k]) + (" (noise)" if values[k] <= 0 else "")
            if k == OURS:
                cells.append(f"**{text}**")
            elif best and k == best[1]:
                cells.append(f"*{text}*")
            else:
                cells.append(text)
        ours = values.get(OURS)
        vs_peer = (
            f"{fmt_ratio(ours / best[0])} ({SHORT[best[1]]})"
            if ours is not None and ours > 0 and best and best[0] > 0
            else "—"
        )
        vs_floor = fmt_ratio(ours / values[FLOOR]) if ours and FLOOR in values else "—"
        name = row if row == DERIVED_REPOLL else f"{row} ({units[row]})"
        if row == DERIVED_REPOLL:
            name = f"↳ one re-poll ({DERIVED_REPOLL})"
        out.append(f"| {name} | " + " | ".join(cells) + f" | {vs_peer} | {vs_floor} |")
    whole = []
    for group, _ in GROUPS:
        entries = medians.get(group, {})
        if OURS in entries and entries[OURS]["elements"]:
            parts = [
                f"{fmt_time(e['median_ns'])} ({SHORT[k]})"
                for k, e in sorted(entries.items(), key=lambda kv: kv[1]["median_ns"])
                if k in SHORT and k != FLOOR
            ]
            n = entries[OURS]["elements"]
            whole.append(f"`{group}` ({n} per iteration): " + ", ".join(parts))
    if whole:
        out += ["", "Whole-iteration medians of the throughput groups: " + "; ".join(whole) + "."]
    cols_t = [k for k, _, _ in THREAD_IMPLS]
    header = False
    for group, unit in THREAD_GROUPS:
        threads = medians.get(group, {})
        if not threads:
            continue
        vals = {k: e["median_ns"] for k, e in threads.items()}
        best = best_peer(vals)
        if not header:
            header = True
            out += [
                "",
                "| OS threads | " + " | ".join(f"{k}" for k in cols_t) + " | ours / best peer |",
                "|---|" + "---:|" * (len(cols_t) + 1),
            ]
        cells = []
        for k in cols_t:
            if k not in vals:
                cells.append("—")
            elif k == OURS:
                cells.append(f"**{fmt_time(vals[k])}**")
            elif best and k == best[1]:
                cells.append(f"*{fmt_time(vals[k])}*")
            else:
                cells.append(fmt_time(vals[k]))
        ours = vals.get(OURS)
        vs = f"{fmt_ratio(ours / best[0])} ({SHORT[best[1]]})" if ours and best else "—"
        out.append(f"| {group} ({unit}) | " + " | ".join(cells) + f" | {vs} |")
    return "\n".join(out)


def callgrind_table(counts):
    if not counts:
        return "(no `benches/results/callgrind.md`: run `benches/run.sh`)"
    cols = [k for k, _, _ in IMPLS]
    out = [
        "| scenario | " + " | ".join(cols) + " | ours / best peer |",
        "|---|" + "---:|" * (len(cols) + 1),
    ]
    rows = dict(counts)
    rq, ho = counts.get("repoll_queued", {}), counts.get("handoff_one", {})
    derived = {i: (rq[i] - ho[i]) / REPOLLS for i in rq if i in ho}
    order = list(counts)
    if derived:
        rows[DERIVED_REPOLL] = derived
        order.insert(order.index("repoll_queued") + 1, DERIVED_REPOLL)
    for row in order:
        values = rows[row]
        best = best_peer(values)
        cells = []
        for k in cols:
            if k not in values:
                cells.append("—")
            elif k == OURS:
                cells.append(f"**{fmt_count(values[k])}**")
            elif best and k == best[1]:
                cells.append(f"*{fmt_count(values[k])}*")
            else:
                cells.append(fmt_count(values[k]))
        ours = values.get(OURS)
        vs = f"{fmt_ratio(ours / best[0])} ({SHORT[best[1]]})" if ours and best else "—"
        name = f"↳ one re-poll ({DERIVED_REPOLL})" if row == DERIVED_REPOLL else row
        out.append(f"| {name} | " + " | ".join(cells) + f" | {vs} |")
    return "\n".join(out)


def summary(medians, counts):
    rows = figures(medians)
    lead, behind = [], []
    for group, _ in GROUPS:
        if group not in rows or OURS not in rows[group]:
            continue
        best = best_peer(rows[group])
        if not best:
            continue
        r = rows[group][OURS] / best[0]
        item = f"`{group}` {fmt_ratio(r)} ({SHORT[best[1]]})"
        (lead if r < 1 else behind).append((r, item))
    for group, _ in THREAD_GROUPS:
        threads = {k: e["median_ns"] for k, e in medians.get(group, {}).items()}
        best = best_peer(threads)
        if OURS in threads and best:
            r = threads[OURS] / best[0]
            item = f"`{group}` {fmt_ratio(r)} ({SHORT[best[1]]})"
            (lead if r < 1 else behind).append((r, item))
    n = len(lead) + len(behind)
    out = []
    if n:
        out.append(
            f"- Criterion, our median ÷ the best peer's in the same run: faster in "
            f"{len(lead)} of {n} scenarios"
            + (
                ", closest first: " + "; ".join(i for _, i in sorted(lead, reverse=True))
                if lead
                else ""
            )
            + "."
        )
        if behind:
            out.append(
                "- Not the fastest (ratio ≥ 1): "
                + "; ".join(i for _, i in sorted(behind, reverse=True))
                + "."
            )
    for scenario in ("bank_then_take", "complete_try_wait"):
        v = rows.get(scenario, {})
        c = counts.get(scenario, {})
        if OURS in v and FLOOR in v:
            text = f"- `{scenario}` against the raw-atomic floor: {fmt_ratio(v[OURS] / v[FLOOR])}× its time"
            if OURS in c and FLOOR in c:
                text += f", {fmt_count(c[OURS])} instructions vs {fmt_count(c[FLOOR])}"
            out.append(text + " (SPEC §5 target: ≤ 1.25×).")
    d = figures(medians).get(DERIVED_REPOLL, {})
    rq, ho = counts.get("repoll_queued", {}), counts.get("handoff_one", {})
    if OURS in rq and OURS in ho:
        per = (rq[OURS] - ho[OURS]) / REPOLLS
        best = best_peer({i: (rq[i] - ho[i]) / REPOLLS for i in rq if i in ho})
        text = f"- One re-poll of a queued wait (callgrind): {fmt_count(per)} instructions"
        if best:
            text += f" (best peer: {SHORT[best[1]]}, {fmt_count(best[0])})"
        if OURS in d:
            text += f"; criterion, derived: {fmt_time(d[OURS])}"
            if d[OURS] <= 0:
                text += " (below the run's noise)"
        out.append(text + ".")
    return "\n".join(out) if out else "(no estimates found)"


def lock_versions():
    """{package: version} of the benches' direct dependencies, from benches/Cargo.lock."""
    lock = BENCHES / "Cargo.lock"
    if not lock.is_file():
        return {}
    text = lock.read_text()
    versions = {}
    for name, version in re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text):
        versions.setdefault(name, []).append(version)
    m = re.search(r'name = "async-completion-benches"\n(?:.*\n)*?dependencies = \[\n((?:.*\n)*?)\]', text)
    direct = {}
    for dep in re.findall(r'"([^"]+)"', m.group(1)) if m else []:
        name, _, version = dep.partition(" ")
        if name in versions:
            direct[name] = version or versions[name][0]
    return direct


def run_facts(run, medians_meta):
    versions = lock_versions()
    peers = [
        "tokio",
        "event-listener",
        "maitake-sync",
        "async-lock",
        "parking_lot",
        "criterion",
    ]
    vs = ", ".join(f"{p} {versions[p]}" for p in peers if p in versions)
    r = run or medians_meta or {}
    lines = []
    if r:
        commit = r.get("commit", "?")
        dirty = r.get("dirty")
        lines.append(
            f"- `async-completion` at commit `{commit}`"
            + (" with uncommitted changes in `src/` (figures not reproducible from the commit)" if dirty else "")
            + f"; {r.get('rustc', '?')}; bench profile (release)."
        )
        if r.get("date"):

            def took(step):
                v = r.get(f"{step}_seconds", "?")
                return f"{step} {v} s" if str(v).isdigit() else f"{step} {v}"

            lines.append(
                f"- Run: {r['date']} ({took('criterion')}, {took('callgrind')}, wall); "
                f"`nproc` {r.get('nproc', '?')}, {r.get('cpu', '?')}, Linux {r.get('kernel', '?')}; "
                "load average (1, 5, 15 min) "
                f"{r.get('load_before', '?')} before, {r.get('load_after', '?')} after"
                + (f"; filter `{r['filter']}`" if r.get("filter") else "")
                + "."
            )
    lines.append(f"- Versions (`benches/Cargo.lock`): {vs}.")
    return "\n".join(lines)


def replace_sections(text, sections):
    def sub(m):
        name = m.group(2)
        if name not in sections:
            return m.group(0)
        return m.group(1) + sections[name].rstrip("\n") + "\n" + m.group(4)

    return MARK.sub(sub, text)


# --------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------


def chart_rows(medians):
    """[(scenario, [(label, impl, ratio)])]: each peer's median ÷ ours."""
    rows = figures(medians)
    out = []
    for group, _ in GROUPS:
        values = rows.get(group, {})
        if OURS not in values:
            continue
        bars = [
            (LABEL[k], k, values[k] / values[OURS])
            for k, _, _ in IMPLS
            if k != OURS and k in values
        ]
        out.append((group, bars))
    for group, _ in THREAD_GROUPS:
        threads = {k: e["median_ns"] for k, e in medians.get(group, {}).items()}
        if OURS in threads:
            bars = [
                (THREAD_LABEL[k], k, threads[k] / threads[OURS])
                for k, _, _ in THREAD_IMPLS
                if k != OURS and k in threads
            ]
            out.append((group, bars))
    return out


COLORS = {
    "tokio_notify": "#4e79a7",
    "tokio_semaphore": "#76b7b2",
    "async_lock_semaphore": "#f28e2b",
    "maitake_waitqueue": "#b07aa1",
    "event_listener": "#edc948",
    "event_listener_counter": "#9c755f",
    "floor_atomics": "#bab0ac",
    "std_mutex_condvar": "#59a14f",
    "parking_lot_mutex_condvar": "#8cd17d",
}


def svg_chart(medians, run):
    rows = chart_rows(medians)
    if not rows:
        return None
    ratios = [r for _, bars in rows for _, _, r in bars if r > 0]
    lo = 2.0 ** math.floor(math.log2(min(min(ratios), 1.0) * 0.95))
    hi = 2.0 ** math.ceil(math.log2(max(max(ratios), 1.0) * 1.05))
    width, left, right = 860, 300, 70
    plot_w = width - left - right
    bar_h, gap, head = 13, 3, 22
    top = 84

    def x(r):
        return left + plot_w * (math.log2(r) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))

    height = top + sum(head + len(b) * (bar_h + gap) + 6 for _, b in rows) + 40
    e = html.escape
    commit = (run or {}).get("commit")
    sub = "Criterion medians of one run" + (f", async-completion at {commit}" if commit else "")
    if (run or {}).get("dirty"):
        sub += " + uncommitted src changes"
    sub += ". Figures: BENCHMARKS.md."
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="12" y="22" font-size="15" font-weight="bold">'
        "Peer's median time ÷ async-completion's, per scenario</text>",
        '<text x="12" y="40" fill="#222">Right of 1.0 (green figure): async-completion is '
        "faster by that factor; left of 1.0 (red): the peer is faster. Log scale.</text>",
        f'<text x="12" y="56" fill="#666">{e(sub)}</text>',
    ]
    # Grid and axis labels.
    ticks = []
    t = lo
    while t <= hi * 1.0001:
        ticks.append(t)
        t *= 2
    grid_bottom = height - 30
    for t in ticks:
        xx = x(t)
        strong = abs(t - 1.0) < 1e-9
        out.append(
            f'<line x1="{xx:.1f}" y1="{top - 8}" x2="{xx:.1f}" y2="{grid_bottom}" '
            f'stroke="{"#000" if strong else "#ddd"}" stroke-width="{1.5 if strong else 1}"/>'
        )
        label = f"{t:g}" if t >= 1 else f"1/{1 / t:g}"
        for yy in (top - 12, grid_bottom + 14):
            out.append(f'<text x="{xx:.1f}" y="{yy}" text-anchor="middle" fill="#444">{label}</text>')
    y = top
    for group, bars in rows:
        out.append(f'<text x="12" y="{y + 15}" font-weight="bold">{e(group)}</text>')
        y += head
        for label, key, r in bars:
            x0, x1 = x(1.0), x(r)
            color = "#777" if key == FLOOR else "#2e8b57" if r >= 1 else "#c0392b"
            out.append(
                f'<text x="{left - 8}" y="{y + bar_h - 3}" text-anchor="end">{e(label)}</text>'
            )
            out.append(
                f'<rect x="{min(x0, x1):.1f}" y="{y}" width="{max(abs(x1 - x0), 1):.1f}" '
                f'height="{bar_h}" fill="{COLORS.get(key, "#999")}" stroke="{color}" stroke-width="1.5">'
                f"<title>{e(group)}, {e(label)}: {fmt_ratio(r)}</title></rect>"
            )
            tx = x1 + 5 if r >= 1 else x1 - 5
            anchor = "start" if r >= 1 else "end"
            if r < 1 and tx - 40 < left:
                tx, anchor = x0 + 5, "start"
            out.append(
                f'<text x="{tx:.1f}" y="{y + bar_h - 3}" text-anchor="{anchor}" fill="{color}">'
                f"{fmt_ratio(r)}×</text>"
            )
            y += bar_h + gap
        y += 6
    out.append(
        f'<text x="12" y="{height - 6}" fill="#666">The raw-atomic floor (grey figure) is not a '
        "peer: the bare atomics of a banked completion (SPEC §5: ours within 1.25× of it).</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from-snapshot", action="store_true", help="read benches/results/medians.json")
    ap.add_argument("--print", action="store_true", help="print the generated parts; write nothing")
    args = ap.parse_args()

    run = json.loads(RUN.read_text()) if RUN.is_file() else {}
    if args.from_snapshot:
        snap = json.loads(SNAPSHOT.read_text())
        medians, run = snap["medians"], snap.get("run", run)
    else:
        base = criterion_dir()
        medians = read_criterion(base, run)
        if not medians:
            sys.exit(f"report.py: no criterion estimates under {base} (run benches/run.sh)")
    counts = read_callgrind()

    sections = {
        "summary": summary(medians, counts),
        "results": results_table(medians),
        "callgrind": callgrind_table(counts),
        "run": run_facts(run, None),
    }
    if args.print:
        for name, text in sections.items():
            print(f"## {name}\n\n{text}\n")
        return
    if not args.from_snapshot:
        RESULTS.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps({"run": run, "medians": medians}, indent=1, sort_keys=True) + "\n")
    svg = svg_chart(medians, run)
    if svg:
        CHART.write_text(svg)
    text = BENCHMARKS_MD.read_text()
    new = replace_sections(text, sections)
    missing = [n for n in sections if f"<!-- BEGIN generated: {n} -->" not in text]
    if missing:
        print("report.py: BENCHMARKS.md has no markers for: " + ", ".join(missing), file=sys.stderr)
    BENCHMARKS_MD.write_text(new)
    print(f"report.py: wrote {CHART.relative_to(ROOT)}, {SNAPSHOT.relative_to(ROOT)}, BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
