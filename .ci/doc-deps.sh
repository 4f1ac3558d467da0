#!/usr/bin/env bash
# The docs' `[dependencies]` blocks compile with their examples, as a reader copies them:
# package the crate, unpack it, make one new crate per block of the README, the crate
# docs and the guides, with the examples it covers as binaries (`.ci/doc_deps.py` says
# which, and how), and build each on its own, resolved fresh from the registry. The
# doctests run the same examples against the dev-dependencies; this proves the blocks
# shown are enough. Called by `.ci/run`; runnable on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo package --no-verify --allow-dirty --quiet
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
tar -xzf "target/package/async-completion-$version.crate" -C "$work"
python3 .ci/doc_deps.py "$work/async-completion-$version" "$work/blocks"

# Outside the repository: its `.cargo/config.toml` must not apply. One target directory
# for all, kept between runs.
export CARGO_TARGET_DIR="$root/target/doc-deps"
cd "$work/blocks"
cargo generate-lockfile --quiet
failed=0
while read -r member target where examples; do
  args=(-p "$member" --quiet)
  env=()
  if [ "$target" != host ]; then
    args+=(--target "$target")
  fi
  echo "-- $where: $examples example(s), $target"
  if ! env "${env[@]}" cargo build "${args[@]}"; then
    echo "FAILED: the block at $where (crate $member: $(sed -n 1p "$member/Cargo.toml"))" >&2
    failed=1
  fi
done < builds
exit "$failed"
