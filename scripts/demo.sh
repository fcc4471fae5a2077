#!/usr/bin/env bash
# The one command for the demo: builds madoguchi, generates the demo world, starts a private
# pcscd with the vpcd virtual reader and virtual My Number Cards, and shows what the kiosk sees
# (card info, tries left, a PIN check with a wrong and a right PIN). Output goes to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked --workspace --bins
BIN="$CARGO_TARGET_DIR/debug"
OUT="$(pwd)/demo-out"
rm -rf "$OUT"; mkdir -p "$OUT"
"$BIN/madoguchi-sim" world --out "$OUT/world" --seed 1
echo "demo world: $OUT/world/manifest.json"
# pcscd's socket path is fixed, so the demo runs in private mount and PID namespaces: it never
# disturbs a pcscd the machine runs, and everything it starts ends with it.
ROOTMAP=""; [ "$(id -u)" -eq 0 ] || ROOTMAP="--map-root-user"
exec unshare $ROOTMAP --mount --propagation private --pid --fork --kill-child --mount-proc -- \
  bash scripts/demo-inner.sh "$BIN" "$OUT"
