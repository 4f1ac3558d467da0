#!/usr/bin/env bash
# Every link and image a crates.io or docs.rs reader follows resolves from what is
# published: package the crate, unpack the `.crate`, build its docs as docs.rs does
# (nightly, `--cfg docsrs`, every feature) from the unpacked package, and check the
# package's Markdown and the rendered docs (.ci/links.py says what exactly).
# Called by `.ci/run`; runnable on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo package --no-verify --allow-dirty --quiet
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
tar -xzf "target/package/async-completion-$version.crate" -C "$work"
pkg="$work/async-completion-$version"

# docs.rs: `cargo +nightly rustdoc` with the `[package.metadata.docs.rs]` settings, and
# `-Zrustdoc-map`, which turns links to dependencies into docs.rs links.
(cd "$pkg" && RUSTDOCFLAGS="--cfg docsrs" CARGO_TARGET_DIR="$work/target" \
  cargo +nightly doc --quiet --no-deps --all-features -Zrustdoc-map)
python3 .ci/links.py "$pkg" "$work/target/doc"

# The auto-trait impls as docs.rs shows them name public types only.
python3 .ci/autotraits.py "$work/target/doc/async_completion"
