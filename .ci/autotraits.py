#!/usr/bin/env python3
"""The `Send`/`Sync` impls of every public type, as rustdoc renders them (run on a docs.rs
build: nightly, `--cfg docsrs`), name public types only: no `Queue<`, `Waiter<` or other
private type of the crate in their bounds, and every conditional impl says its condition.

Usage: autotraits.py DOC_DIR/async_completion
"""

import html
import re
import sys
from pathlib import Path

PRIVATE = ["Queue", "Waiter", "Node", "Locked", "Drain", "WakerSlot", "RawLock", "DefaultInner"]
root = Path(sys.argv[1])
errors, seen = [], 0
for page in sorted(root.glob("struct.*.html")):
    text = page.read_text()
    for m in re.finditer(r'<h3 class="code-header">(.*?)</h3>', text, re.S):
        header = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", m.group(1))))
        if not re.search(r"\b(Send|Sync) for\b", header):
            continue
        seen += 1
        for name in PRIVATE:
            if re.search(rf"\b{name}<|\b{name}\b:", header):
                errors.append(f"{page.name}: `{header}` names the private `{name}`")
if seen == 0:
    errors.append(f"no Send/Sync impls found under {root}: not a rustdoc build?")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"auto traits: {seen} Send/Sync impls, every bound on public types")
