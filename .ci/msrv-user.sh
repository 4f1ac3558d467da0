#!/usr/bin/env bash
# The MSRV as a user meets it: one statement, and a new user crate that builds with it.
#
# 1. The MSRV statement is the same in Cargo.toml's comment, the README and the crate docs.
# 2. `.ci/msrv-user/` (a user crate set up as that statement says: `rust-version = "1.85"`,
#    resolver 3 through edition 2024) is copied out of the repository, so that the
#    repository's `.cargo/config.toml` does not apply, depends on the packaged crate,
#    resolves fresh from the registry with cargo 1.85 and builds with Rust 1.85: without
#    features, with `std`, with each feature, and with all of them but `embassy-sync`;
#    `embassy-sync` with Rust 1.87, as the statement says.
# 3. The other two set-ups the statement names (edition 2021 with `resolver = "3"`, and
#    `incompatible-rust-versions = "fallback"` in `.cargo/config.toml`) resolve to the same
#    versions.
# Called by `.ci/run`; runnable on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for v in 1.85 1.87; do rustup toolchain install "$v" --profile minimal --no-self-update >/dev/null 2>&1 || true; done

echo "-- one MSRV statement"
python3 - <<'PY'
import re
def norm(s): return " ".join(s.split())
crate = open("docs/crate.md").read()
stmt = crate.split("## Minimum supported Rust version\n", 1)[1].split("\n#", 1)[0]
stmt = norm(stmt)
readme = norm(open("README.md").read())
toml = open("Cargo.toml").read()
comment = norm(" ".join(l[1:] for l in re.search(r"((?:^#.*\n)+)rust-version", toml, re.M).group(1).splitlines()[1:]))
bad = [n for n, t in (("README.md", readme), ("Cargo.toml", comment)) if stmt not in t]
if bad or "1.85" not in stmt:
    raise SystemExit(f"the MSRV statement of docs/crate.md differs in {bad}:\n{stmt}")
rv = re.search(r'^rust-version = "([^"]+)"', toml, re.M).group(1)
if f"Rust {rv} for the crate" not in stmt:
    raise SystemExit(f"rust-version is {rv}; the statement says otherwise")
print("the same in Cargo.toml, README.md and docs/crate.md")
PY

cargo package --no-verify --allow-dirty --quiet
version=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
tar -xzf "target/package/async-completion-$version.crate" -C "$work"
pkg="$work/async-completion-$version"

user="$work/msrv-user"
cp -r .ci/msrv-user "$user"
sed -i "s|path = \"../..\"|path = \"$pkg\"|" "$user/Cargo.toml"
export CARGO_TARGET_DIR="$root/target/msrv-user"
cd "$user"

echo "-- resolve fresh with cargo 1.85"
cargo +1.85 generate-lockfile --quiet
cp Cargo.lock "$work/lock-2024"
grep -q 'rust-version = "1.85"' Cargo.toml
features=(std alloc critical-section portable-atomic tokio async-io embassy-time defmt)
echo "-- Rust 1.85, no features"
cargo +1.85 build --quiet --no-default-features
for f in "${features[@]}"; do
  if [ "$f" = embassy-time ]; then
    # The statement's one pin by hand: embassy-time's `std` driver takes its generic queue.
    cargo +1.85 update --quiet -p embassy-time-queue-utils --precise 0.3.0
  fi
  echo "-- Rust 1.85, $f"
  cargo +1.85 build --quiet --features "$f"
done
echo "-- Rust 1.85, all features but embassy-sync"
cargo +1.85 build --quiet --features "$(IFS=,; echo "${features[*]}")"
echo "-- Rust 1.87, embassy-sync (and its rust-version)"
sed -i 's/^rust-version = "1.85"/rust-version = "1.87"/' Cargo.toml
cargo +1.87 generate-lockfile --quiet
cargo +1.87 build --quiet --features embassy-sync
sed -i 's/^rust-version = "1.87"/rust-version = "1.85"/' Cargo.toml

echo "-- the other set-ups resolve the same"
versions() { python3 -c 'import sys,tomllib; print(sorted((p["name"], p["version"]) for p in tomllib.load(open(sys.argv[1],"rb"))["package"]))' "$1"; }
sed -i 's/^edition = "2024"/edition = "2021"\nresolver = "3"/' Cargo.toml
cargo +1.85 generate-lockfile --quiet
[ "$(versions Cargo.lock)" = "$(versions "$work/lock-2024")" ] || { echo "edition 2021 + resolver 3 resolves differently" >&2; exit 1; }
sed -i '/^resolver = "3"/d' Cargo.toml
mkdir -p .cargo
printf '[resolver]\nincompatible-rust-versions = "fallback"\n' > .cargo/config.toml
cargo +1.85 generate-lockfile --quiet
[ "$(versions Cargo.lock)" = "$(versions "$work/lock-2024")" ] || { echo "the .cargo/config.toml setting resolves differently" >&2; exit 1; }
echo "msrv-user: built at the MSRV with every feature, as the docs say"
