#!/usr/bin/env bash
# The one command that runs every test; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo fmt --all --check
cargo build --locked --workspace --bins
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace
# Every fuzz target for a bounded time (longer runs: bash scripts/fuzz.sh SECONDS).
bash scripts/fuzz.sh 15
