#!/usr/bin/env bash
# Deployment figures (issue 16): .deb sizes, systemd-analyze security exposure, and the kiosk's
# cold start to its idle screen with its resident-set size then.
#
#   bash scripts/measure-deploy.sh [--bin-dir DIR] [KIOSK_TOML]
#
# --bin-dir: measure the binaries already built there (madoguchi, madoguchi-backend,
# madoguchi-lab) instead of a fresh `cargo build --release`; the output names the profile.
#
# Cold start: with KIOSK_TOML (a complete site: backend, readers, printer, cash unit) and a
# DRM/KMS device, exec of `madoguchi` to READY=1 (sent once the idle screen shows and every
# --check condition holds) and VmRSS then. Without a DRM device (a build machine, CI) the kiosk
# cannot draw (it exits 4), so the figure comes from the headless runner instead: the same
# kiosk code (configuration, workers, devices, the software renderer into memory) started by
# `madoguchi-lab demo --headless` against the simulated store, to its first idle screen drawn,
# and the lab process's VmRSS then (kiosk plus the in-process simulators).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/madoguchi/target}"
BIN_DIR=""
while (($#)); do
  case "$1" in
    --bin-dir) BIN_DIR=$(realpath "$2"); shift 2 ;;
    *) break ;;
  esac
done
if [ -z "$BIN_DIR" ]; then
  cargo build --release -p madoguchi-firmware --bin madoguchi >&2
  cargo build --release -p madoguchi-backend --bin madoguchi-backend >&2
  cargo build --release -p madoguchi-lab --bin madoguchi-lab >&2
  BIN_DIR=$CARGO_TARGET_DIR/release
fi
case "$BIN_DIR" in */release) PROFILE=release ;; */debug) PROFILE="debug (unoptimised)" ;; *) PROFILE="from $BIN_DIR" ;; esac
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== packages ($PROFILE binaries, stripped): bash scripts/package.sh --bin-dir $BIN_DIR"
for deb in $(bash scripts/package.sh --bin-dir "$BIN_DIR" --out "$WORK/dist"); do
  printf '%-44s %10d bytes (%s KiB installed)\n' "$(basename "$deb")" "$(stat -c %s "$deb")" "$(dpkg-deb -f "$deb" Installed-Size)"
done

echo "== systemd-analyze security --offline=true deploy/systemd/*.service"
for unit in deploy/systemd/*.service; do
  printf '%-32s %s\n' "$(basename "$unit")" "$(systemd-analyze security --offline=true "$unit" 2>/dev/null | grep 'Overall exposure level' | sed 's/.*: //')"
done

if ! ls /dev/dri/card* >/dev/null 2>&1; then
  echo "== cold start ($PROFILE): no DRM/KMS device here, so the headless runner:"
  echo "   madoguchi-lab demo --headless --scenario residence-certificate (UI + kiosk start to the idle screen drawn)"
  "$BIN_DIR/madoguchi-lab" demo --headless --scenario residence-certificate --out "$WORK/demo" >"$WORK/demo.log" 2>&1 \
    || { cat "$WORK/demo.log" >&2; echo "the headless run failed" >&2; exit 1; }
  python3 - "$WORK/demo/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("start_to_idle") or sys.exit("result.json has no start_to_idle: the kiosk never showed its idle screen")
print(f"idle screen after {s['ms']} ms; VmRSS then {s['rss_kb']} kB; peak over a whole visit {r['peak_rss_kb']} kB")
PY
  exit 0
fi
[ $# -ge 1 ] || { echo "== cold start: give KIOSK_TOML (a complete site) to measure it"; exit 0; }
echo "== cold start ($PROFILE): $BIN_DIR/madoguchi --config $1 (exec to READY=1, VmRSS then)"
python3 - "$BIN_DIR/madoguchi" "$1" <<'PY'
import os, socket, subprocess, sys, tempfile, time
binary, config = sys.argv[1], sys.argv[2]
path = os.path.join(tempfile.mkdtemp(), "notify")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path); s.settimeout(0.05)
t0 = time.monotonic()
p = subprocess.Popen([binary, "--config", config], env=dict(os.environ, NOTIFY_SOCKET=path), stderr=subprocess.PIPE)
while True:
    if time.monotonic() - t0 > 120:
        p.kill(); sys.exit("no READY=1 within 120 s")
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        msg = ""
    if "READY=1" in msg:
        ms = (time.monotonic() - t0) * 1000
        rss = next(l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS"))
        print(f"READY after {ms:.0f} ms; {rss.strip()}")
        p.terminate(); p.wait(); break
    if p.poll() is not None:
        err = p.stderr.read().decode().strip()
        sys.exit(f"the kiosk exited {p.returncode} before READY after {(time.monotonic()-t0)*1000:.0f} ms: {err}")
PY
