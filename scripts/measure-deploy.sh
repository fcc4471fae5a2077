#!/usr/bin/env bash
# Deployment figures (issue 16): .deb sizes, systemd-analyze security exposure, and the kiosk's
# cold start (exec to READY=1, which the kiosk sends once its screen shows the idle view and every
# --check condition holds) with its resident-set size at that moment.
#
#   bash scripts/measure-deploy.sh [KIOSK_TOML]
#
# Without KIOSK_TOML only the packages and units are measured. The cold start needs a complete
# site (backend, readers, printer, cash unit) and a DRM/KMS device; on a machine without one the
# kiosk exits 4 and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/madoguchi/target}"

echo "== packages (release build, stripped): bash scripts/package.sh"
for deb in $(bash scripts/package.sh); do
  printf '%-60s %8d bytes (%s installed KiB)\n' "$(basename "$deb")" "$(stat -c %s "$deb")" "$(dpkg-deb -f "$deb" Installed-Size)"
done

echo "== systemd-analyze security --offline=true deploy/systemd/*.service"
for unit in deploy/systemd/*.service; do
  printf '%-32s %s\n' "$(basename "$unit")" "$(systemd-analyze security --offline=true "$unit" 2>/dev/null | grep 'Overall exposure level' | sed 's/.*: //')"
done

[ $# -ge 1 ] || exit 0
echo "== cold start: $CARGO_TARGET_DIR/release/madoguchi --config $1 (exec to READY=1, VmRSS then)"
python3 - "$CARGO_TARGET_DIR/release/madoguchi" "$1" <<'PY'
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
