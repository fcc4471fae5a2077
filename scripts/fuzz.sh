#!/usr/bin/env bash
# Bounded fuzzing: runs every cargo-fuzz target of fuzz/ for SECONDS each (default 20), from its
# committed seed corpus. A crash fails the run and is kept as a regression file in
# fuzz/regressions/<target>/, which the unit tests replay on stable from then on (commit it with
# the fix). scripts/test.sh calls this with a short bound; run it longer by hand:
#
#   bash scripts/fuzz.sh 600              # ten minutes each
#   bash scripts/fuzz.sh 60 pjl_replies   # one target
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
SECONDS_EACH="${1:-20}"
shift || true

# cargo-fuzz drives libFuzzer; its instrumentation needs unstable flags, which the stable
# toolchain allows with RUSTC_BOOTSTRAP=1 (the only toolchain this machine has).
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" >&2
fi
export RUSTC_BOOTSTRAP=1
# Its own target directory beside the main one (instrumented builds cannot share it).
FUZZ_TARGET_DIR="${CARGO_TARGET_DIR}-fuzz"

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^madoguchi-fuzz$')
fi

cd fuzz
# Safe Rust: no sanitizer is needed to see a panic, and the build is much faster without one.
cargo fuzz build --sanitizer none --target-dir "$FUZZ_TARGET_DIR"
FAILED=()
for T in "${TARGETS[@]}"; do
  WORK="$(mktemp -d)"
  ARTIFACTS="$WORK/artifacts/"
  mkdir -p "$ARTIFACTS" "$WORK/corpus"
  # The committed corpus is only read: new inputs go to a scratch copy.
  cp -r "corpus/$T/." "$WORK/corpus/" 2>/dev/null || true
  echo "fuzz: $T for ${SECONDS_EACH}s" >&2
  if ! cargo fuzz run --sanitizer none --target-dir "$FUZZ_TARGET_DIR" "$T" "$WORK/corpus" -- \
      -max_total_time="$SECONDS_EACH" -artifact_prefix="$ARTIFACTS" -print_final_stats=1 > "$WORK/log" 2>&1; then
    mkdir -p "regressions/$T"
    for f in "$ARTIFACTS"*; do
      [ -f "$f" ] || continue
      cp "$f" "regressions/$T/$(basename "$f")"
      echo "fuzz: $T crashed; input kept as fuzz/regressions/$T/$(basename "$f")" >&2
    done
    tail -40 "$WORK/log" >&2
    FAILED+=("$T")
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$WORK/log" | sed "s/^/fuzz: $T /" >&2 || true
  fi
  rm -rf "$WORK"
done
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${FAILED[*]}" >&2
  exit 1
fi
