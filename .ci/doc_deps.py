#!/usr/bin/env python3
"""The docs' `[dependencies]` blocks, built with their examples, as a reader would.

Usage: doc_deps.py PACKAGE_DIR OUT_DIR

Reads the package's README.md and docs/*.md (the crate docs and the guides) and writes, in
OUT_DIR, one Cargo workspace with a crate per `[dependencies]` block: the block as that
crate's manifest (this crate's `version = "0.1"` replaced by a path to PACKAGE_DIR, the
rest as shown), and each example the block covers as one of its binaries. OUT_DIR/builds
lists `member target` lines for `.ci/doc-deps.sh` to build one by one (one `cargo build`
each, so that no member's features leak into another's).

Which block covers an example: the nearest one before it whose section is still open. A
block belongs to the section it appears in (the page itself, before the first heading):
it covers the examples after it up to the next heading of the same or a higher level.
An example covered by no block gets `async-completion` alone, with default features: an
example that needs more and shows no block fails to build.

An example is a Rust code block that rustdoc compiles (not `ignore`, `compile_fail` or
`text`); its hidden lines (`# ...`) are kept, as rustdoc keeps them, and it is wrapped in
`fn main` unless it has one. The crate docs' examples are written for this crate's own
doctests, where `#[cfg(feature = "tokio")]` names *its* features: each generated crate
declares, and enables, the features its block enables on `async-completion`, so those
`cfg`s mean the same there. An example that names a feature its block does not enable
fails here rather than compile to nothing. A block with no example is built as a library
(for `thumbv7em-none-eabihf`, or `thumbv6m-none-eabi` with `portable-atomic`, when it
turns `std` off).
"""

import re
import sys
import tomllib
from pathlib import Path

pkg = Path(sys.argv[1]).resolve()
out = Path(sys.argv[2]).resolve()
NAME = "async-completion"
FEATURES = set(tomllib.loads((pkg / "Cargo.toml").read_text())["features"]) - {"default"}
errors = []

FENCE = re.compile(r"^(```+|~~~+)\s*([^\n]*)$")
HEADING = re.compile(r"^(#{1,6})\s")


def blocks(path: Path):
    """(kind, info, code, line, heading level) for each fenced block, and headings."""
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            fence, info, start = m.group(1), m.group(2).strip(), i
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            yield ("code", info, "\n".join(body), start + 1)
        else:
            h = HEADING.match(lines[i])
            if h:
                yield ("heading", len(h.group(1)), None, i + 1)
        i += 1


def is_rust(info: str) -> bool:
    words = [w for w in re.split(r"[,\s]+", info) if w]
    if any(w in ("ignore", "compile_fail", "text", "toml", "sh", "console", "json") for w in words):
        return False
    return not words or words[0] in ("rust", "no_run", "should_panic", "edition2021", "edition2024")


def doctest_source(code: str) -> str:
    """What rustdoc compiles: hidden lines shown, wrapped in `fn main` if it has none."""
    out_lines = []
    for line in code.split("\n"):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped == "#":
            out_lines.append(indent)
        elif stripped.startswith("# "):
            out_lines.append(indent + stripped[2:])
        elif stripped.startswith("##"):
            out_lines.append(indent + stripped[1:])
        else:
            out_lines.append(line)
    src = "\n".join(out_lines)
    if not re.search(r"\bfn main\s*\(", src):
        src = "fn main() {\n" + src + "\n}\n"
    return "#![allow(unused, dead_code)]\n" + src


def manifest(block: str, where: str):
    """The block as a manifest for a new crate: (toml text, enabled features, std off)."""
    try:
        parsed = tomllib.loads(block)
    except tomllib.TOMLDecodeError as e:
        errors.append(f"{where}: the block is not valid TOML: {e}")
        return None
    dep = parsed.get("dependencies", {}).get(NAME)
    if dep is None:
        errors.append(f"{where}: the block does not list `{NAME}`")
        return None
    dep = {"version": dep} if isinstance(dep, str) else dict(dep)
    default = dep.get("default-features", True)
    feats = set(dep.get("features", []))
    feats |= {"std", "alloc"} if default else set()
    own = parsed.get("features", {})
    for f in own.get("default", []):  # a library block forwarding features by default
        for item in own.get(f, []):
            if item.startswith(NAME + "/"):
                feats.add(item.split("/", 1)[1])
    if "std" in feats:
        feats.add("alloc")
    # The block's text, with a path to the package in place of the version requirement.
    text, n = re.subn(
        rf'^{re.escape(NAME)}\s*=\s*(\{{[^\n]*\}}|"[^"]*")',
        lambda m: f'{NAME} = {{ path = "{pkg}"'
        + ("" if default else ", default-features = false")
        + (f', features = {sorted(dep.get("features", []))!r}'.replace("'", '"') if dep.get("features") else "")
        + " }",
        block,
        flags=re.M,
    )
    if n != 1:
        errors.append(f"{where}: `{NAME}` must be on one line of the block")
        return None
    return text, feats, not default and "std" not in feats


sources = [pkg / "README.md", *sorted((pkg / "docs").glob("*.md"))]
members = []
for src in sources:
    rel = src.relative_to(pkg).as_posix()
    active = []  # (level of the block's section, block), innermost last
    section = 0  # the level of the heading we are under; 0 before the first
    alone = None
    for kind, info, code, line in blocks(src):
        if kind == "heading":
            active = [(lvl, e) for (lvl, e) in active if lvl < info]
            section = info
            continue
        if info.startswith("toml") and "[dependencies]" in code:
            where = f"{rel}:{line}"
            m = manifest(code, where)
            if m is not None:
                entry = {"where": where, "toml": m[0], "features": m[1], "no_std": m[2], "examples": []}
                members.append(entry)
                active.append((section, entry))
            continue
        if not is_rust(info):
            continue
        if active:
            entry = active[-1][1]
        else:
            if alone is None:
                alone = {
                    "where": f"{rel}, no block ({NAME} alone)",
                    "toml": f'[dependencies]\n{NAME} = {{ path = "{pkg}" }}\n',
                    "features": {"std", "alloc"},
                    "no_std": False,
                    "examples": [],
                }
                members.append(alone)
            entry = alone
        used = set(re.findall(r'feature\s*=\s*"([^"]+)"', code))
        missing = sorted(f for f in used if f in FEATURES and f not in entry["features"])
        if missing:
            errors.append(
                f"{rel}:{line}: the example needs feature(s) {missing} of {NAME}, "
                f"which its block ({entry['where']}) does not enable"
            )
        entry["examples"].append((f"{rel}:{line}", doctest_source(code)))

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)

out.mkdir(parents=True, exist_ok=True)
names, builds = [], []
for n, entry in enumerate(members):
    name = f"doc-block-{n:02}"
    d = out / name
    (d / "src" / "bin").mkdir(parents=True, exist_ok=True)
    feats = sorted(f for f in entry["features"] if f in FEATURES)
    own_features = "".join(f'{f} = []\n' for f in feats)
    toml = entry["toml"]
    if re.search(r"^\[features\]", toml, flags=re.M):
        cfg_features = ""  # a library's manifest, with its own features: as shown
    else:
        cfg_features = f"[features]\ndefault = {feats!r}\n{own_features}".replace("'", '"')
    (d / "Cargo.toml").write_text(
        f'# {entry["where"]}\n[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
        + toml.rstrip()
        + "\n\n"
        + cfg_features
    )
    for i, (where, source) in enumerate(entry["examples"]):
        (d / "src" / "bin" / f"example_{i:02}.rs").write_text(f"// {where}\n" + source)
    if not entry["examples"]:
        (d / "src" / "bin").rmdir()
        target = "host"
        if entry["no_std"]:
            target = "thumbv6m-none-eabi" if "portable-atomic" in entry["features"] else "thumbv7em-none-eabihf"
            (d / "src" / "lib.rs").write_text(
                "#![no_std]\n//! The block alone.\n"
                "pub static DONE: async_completion::Completion = async_completion::Completion::new();\n"
            )
        else:
            (d / "src" / "lib.rs").write_text("//! The block alone.\n")
    else:
        target = "host"
    names.append(name)
    builds.append(f"{name} {target} {entry['where'].replace(' ', '_')} {len(entry['examples'])}")

(out / "Cargo.toml").write_text(
    "[workspace]\nresolver = \"2\"\nmembers = [\n" + "".join(f'    "{n}",\n' for n in names) + "]\n"
)
(out / "builds").write_text("\n".join(builds) + "\n")
print(f"doc blocks: {len(members)} crates, {sum(len(e['examples']) for e in members)} examples, in {out}")
