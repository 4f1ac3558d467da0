#!/usr/bin/env python3
"""Every link and image a crates.io or docs.rs reader follows resolves from what is published.

Usage: links.py PACKAGE_DIR DOC_DIR

PACKAGE_DIR is the unpacked `.crate` (what `cargo package` ships), DOC_DIR the `target/doc`
of a docs.rs-style build of that package. Checked:

- The shipped Markdown (README.md, CHANGELOG.md, BENCHMARKS.md, docs/*.md): every link and
  image, Markdown or HTML, inline or by reference.
  - README.md: no relative target at all. crates.io resolves those against `repository`,
    which nothing here can check; link to docs.rs instead.
  - docs/*.md: these are rustdoc pages, which cannot reach a file: a target is an
    intra-doc path (`crate::...`), an anchor, or absolute.
  - the others (shown as files on docs.rs): a relative target must be in the package.
  - everywhere: a docs.rs link to this crate must point into this version's files:
    `docs.rs/crate/async-completion/<version>/source/<path>` needs `<path>` in the package,
    `docs.rs/async-completion/<version>/async_completion/<page>` needs `<page>` (and its
    `#anchor`) in DOC_DIR.
- The rustdoc HTML of this crate in DOC_DIR (the crate docs and every page including
  `docs/*.md`): every relative `href`/`src` resolves to a file of DOC_DIR, and every
  `#anchor` to an `id` of its page.
"""

import html
import re
import sys
import tomllib
from pathlib import Path

pkg = Path(sys.argv[1]).resolve()
doc = Path(sys.argv[2]).resolve()
manifest = tomllib.loads((pkg / "Cargo.toml").read_text())
NAME = manifest["package"]["name"]
VERSION = manifest["package"]["version"]
LIB = NAME.replace("-", "_")
errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


ids_cache = {}


def ids_of(page: Path):
    if page not in ids_cache:
        text = page.read_text(errors="replace") if page.is_file() else ""
        ids_cache[page] = set(re.findall(r'\bid="([^"]+)"', text))
    return ids_cache[page]


def check_docs_rs(where, url):
    """A docs.rs URL of this crate must name this version and something it has."""
    m = re.match(r"https://docs\.rs/crate/([^/]+)/([^/]+)/source/([^#?]*)", url)
    if m and m.group(1) == NAME:
        if m.group(2) != VERSION:
            err(where, f"{url}: version {m.group(2)}, the package is {VERSION}")
        if not (pkg / m.group(3)).is_file():
            err(where, f"{url}: `{m.group(3)}` is not in the package")
        return
    m = re.match(r"https://docs\.rs/([^/#?]+)(/([^/#?]+))?(/([^#?]*))?(#(.*))?$", url)
    if not m or m.group(1) != NAME:
        return
    if m.group(3) is None:
        return  # the crate's docs.rs root
    if m.group(3) != VERSION:
        err(where, f"{url}: version {m.group(3)}, the package is {VERSION}")
    rest = m.group(5) or ""
    if not rest.startswith(LIB + "/") and rest != LIB:
        err(where, f"{url}: not a page of `{LIB}`")
        return
    page = doc / rest
    if rest.endswith("/") or rest == LIB:
        page = page / "index.html"
    if not page.is_file():
        err(where, f"{url}: no page `{rest}` in the docs")
    elif m.group(7) and m.group(7) not in ids_of(page):
        err(where, f"{url}: no `#{m.group(7)}` on that page")


def strip_code(md: str) -> str:
    """Markdown without fenced code blocks and inline code (their text is not a link)."""
    md = re.sub(r"^( {0,3})(```|~~~).*?^\1\2[ \t]*$", "", md, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", md)


def md_targets(md: str):
    text = strip_code(md)
    for m in re.finditer(r"(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text):
        yield ("image" if m.group(1) else "link"), m.group(2)
    for m in re.finditer(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)", text, flags=re.M):
        yield "link", m.group(1)
    for m in re.finditer(r"<(a|img|source)\b[^>]*?\b(href|src|srcset)=\"([^\"]+)\"", text):
        yield ("image" if m.group(1) != "a" else "link"), m.group(3)


def is_absolute(t):
    return re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", t) is not None


def is_intra_doc(t):
    # rustdoc resolves paths such as `crate::guide::embedded`, `Completion::wait`, `Self::x`.
    return re.match(r"^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*(#[\w-]+)?$", t) is not None and (
        "::" in t or t[0].isupper() or t.startswith("crate")
    )


shipped = [pkg / "README.md", pkg / "CHANGELOG.md", pkg / "BENCHMARKS.md", *sorted((pkg / "docs").glob("*.md"))]
for f in shipped:
    if not f.is_file():
        continue
    rel = f.relative_to(pkg).as_posix()
    for kind, target in md_targets(f.read_text()):
        where = f"{rel}: {kind} `{target}`"
        if is_absolute(target):
            check_docs_rs(rel, target)
        elif target.startswith("#"):
            pass  # an anchor of the same page
        elif rel == "README.md":
            err(where, "relative: crates.io resolves it against the repository, which may not exist; link to docs.rs")
        elif rel.startswith("docs/"):
            if not is_intra_doc(target):
                err(where, "a rustdoc page cannot link a file: use an intra-doc path, or a docs.rs link")
        else:
            path = target.split("#")[0]
            if not (f.parent / path).resolve().is_file() or not str((f.parent / path).resolve()).startswith(str(pkg)):
                err(where, "not in the package")

# The rendered docs of this crate: every relative link resolves in the doc tree.
root = doc / LIB
if not (root / "index.html").is_file():
    err(str(doc), f"no {LIB}/index.html: build the docs first")
for page in sorted(root.rglob("*.html")):
    text = page.read_text(errors="replace")
    if 'http-equiv="refresh"' in text:
        continue  # rustdoc's redirect pages
    rel = page.relative_to(doc).as_posix()
    # Only the page's content: rustdoc's own chrome (sidebar, scripts) is rustdoc's business.
    body = text[text.find('<section id="main-content"'):] if '<section id="main-content"' in text else text
    for m in re.finditer(r'\b(href|src)="([^"]*)"', body):
        target = html.unescape(m.group(2))
        if not target or is_absolute(target) or target.startswith("//"):
            if target.startswith("https://docs.rs/"):
                check_docs_rs(rel, target)
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if path and not dest.is_file():
            # (`-Zrustdoc-map` made links to other crates docs.rs links, as on docs.rs.)
            err(rel, f"`{target}`: no such file in the docs")
        elif anchor and dest.suffix == ".html" and anchor not in ids_of(dest):
            # rustdoc's line anchors of source pages (`#12-34`) and its own UI anchors
            if re.match(r"^\d+(-\d+)?$", anchor) or dest.parts[-2:-1] == ("src",):
                continue
            err(rel, f"`{target}`: no `#{anchor}` on that page")

if errors:
    print("links that do not resolve from the package:", file=sys.stderr)
    for e in errors:
        print("  " + e, file=sys.stderr)
    sys.exit(1)
print(f"links: every link and image of the package's Markdown and of the {LIB} docs resolves")
