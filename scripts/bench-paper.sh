#!/usr/bin/env bash
# The render bench beside its peer, in one run: every document type's size and time, the
# anti-copy pattern's two figures, and the same 4-member 住民票 drawn by ReportLab
# (paper/benches/peer/juminhyo_reportlab.py) for size and time.
#
#   bash scripts/bench-paper.sh              # release build
#   bash scripts/bench-paper.sh --profile dev   # reuses the test build (times pessimistic)
#
# MADOGUCHI_PATTERN_OUT=DIR also writes the pattern's original.png / copy.png and the peer's
# PDF there, to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
PEER_VENV="$HOME/.cache/madoguchi/reportlab-5.1.0"
if ! "$PEER_VENV/bin/python" -c 'import reportlab' 2>/dev/null; then
  echo "bench-paper: installing reportlab 5.1.0 (pip, in $PEER_VENV)" >&2
  python3 -m venv "$PEER_VENV" >&2
  "$PEER_VENV/bin/pip" install -q "reportlab==5.1.0" >&2
fi
MADOGUCHI_PEER_PYTHON="$PEER_VENV/bin/python" cargo bench --locked --workspace --bench render "$@"
