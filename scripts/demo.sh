#!/usr/bin/env bash
# The one command for the demo: installs what it needs, builds madoguchi, and plays residents'
# visits to the kiosk with no display: `madoguchi-lab demo --headless` starts the demo world, a
# private pcscd with the vpcd virtual reader (its own mount and PID namespaces), the municipal
# backend, the PJL printer simulator on a pty and the kiosk itself, then drives the touchscreen
# UI by its action ids as a resident would.
#
#   bash scripts/demo.sh                 # residence-certificate, printer-jam-refund, english-resident
#   bash scripts/demo.sh all             # every shipped scenario (tests/scenarios/)
#   bash scripts/demo.sh tax-certificate # one or more by name, or scenario files
#
# Each scenario writes demo-out/<name>/: screens/NNN-<screen>.png (every screen shown),
# printed/*.pdf (what came out of the printer), result.json (steps, money, APDUs, timings).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked --workspace --bins
BIN="$CARGO_TARGET_DIR/debug"
OUT="$(pwd)/demo-out"
mkdir -p "$OUT"
# One world for every scenario (the kiosk copies card profiles, so it is never changed).
[ -f "$OUT/world/manifest.json" ] || "$BIN/madoguchi-sim" world --out "$OUT/world" --seed 7

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(residence-certificate printer-jam-refund english-resident)
if [ "${SCENARIOS[0]}" = all ]; then
  SCENARIOS=(); for f in tests/scenarios/*.toml; do SCENARIOS+=("$(basename "$f" .toml)"); done
fi

FAILED=0
for S in "${SCENARIOS[@]}"; do
  NAME="$(basename "$S" .toml)"
  printf '\n\033[1m== %s\033[0m\n' "$NAME"
  "$BIN/madoguchi-lab" demo --headless --scenario "$S" --world "$OUT/world" --out "$OUT/$NAME" || FAILED=1
  jq -r '"passed: \(.passed)  issuances: \(.issuances | length)  charged: \(.charged_yen) yen  refunded: \(.refunded_yen) yen  APDUs to authenticated: \(.apdu_count)  kiosk machine time: \(.machine_time_ms) ms  end to end: \(.end_to_end_ms) ms  peak RSS: \(.peak_rss_kb) kB"' \
    "$OUT/$NAME/result.json" 2>/dev/null || true
  echo "screens: $OUT/$NAME/screens/   printed: $OUT/$NAME/printed/   result: $OUT/$NAME/result.json"
done
exit $FAILED
