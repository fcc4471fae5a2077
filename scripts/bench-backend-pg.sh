#!/usr/bin/env bash
# The backend over PostgreSQL at scale, with where the CPU goes: a private PostgreSQL cluster
# (initdb on a free port, fsync and synchronous_commit on, removed afterwards), then
# `madoguchi-lab bench` against a fresh database per run. Each run prints the bench's JSON line
# and the CPU each flow cost in the lab process (load generator, in-process backends, the
# presigning) and in PostgreSQL (every server process). The host's speed drifts, so flows/s of
# runs made at different moments do not compare; CPU per flow drifts less. To compare two
# builds, give the other lab binary: runs then alternate between them.
#
#   bash scripts/bench-backend-pg.sh                     # 3 runs: 2 instances, 100 kiosks
#   bash scripts/bench-backend-pg.sh --runs 5 --unix     # through the Unix socket
#   bash scripts/bench-backend-pg.sh --against /tmp/old-madoguchi-lab
#   bash scripts/bench-backend-pg.sh -- --instances 1 --kiosks 10   # bench arguments
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 unix=0 against="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --unix) unix=1; shift ;;
    --against) against=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench-backend-pg: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#extra[@]} -gt 0 ] || extra=(--kiosks 100 --sessions 5000 --instances 2)
source scripts/setup.sh
cargo build --locked --release -q -p madoguchi-lab -p madoguchi-backend --bins
lab="${CARGO_TARGET_DIR:-target}/release/madoguchi-lab"

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/madoguchi-pgbench.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then chown nobody:nogroup "$dir"; as=(runuser -u nobody --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() { "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
postmaster=$(head -1 "$dir/data/postmaster.pid")
ticks=$(getconf CLK_TCK)

# CPU ticks of the server so far: its live processes, and the exited ones through the
# postmaster's children's times.
pg_ticks() {
  local t=0 p s
  for p in $postmaster $(pgrep -P "$postmaster"); do
    s=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    set -- $s
    t=$((t + ${12} + ${13}))
    [ "$p" = "$postmaster" ] && t=$((t + ${14} + ${15}))
  done
  echo $t
}

# User and system CPU, in ms, in the output of bash's `times` saved in file $1 (its second line:
# this shell's finished children). `times` must run in this shell, not in a $(...) subshell.
times_ms() {
  tail -1 "$1" | python3 -c '
import re, sys
print(sum(round((int(m) * 60 + float(x)) * 1000) for m, x in re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())))'
}

one() {
  local label=$1 bench=$2 n url before after line flows cpu
  n=b$(date +%s%N | tail -c 9)
  psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $n"
  if [ $unix = 1 ]; then url="postgres://postgres@localhost/$n?host=$dir&port=$port"
  else url="postgres://postgres@127.0.0.1:$port/$n"; fi
  before=$(pg_ticks)
  times >"$dir/t0"
  "$bench" bench "${extra[@]}" --database "$url" 2>/dev/null >"$dir/out"
  times >"$dir/t1"
  cpu=$(($(times_ms "$dir/t1") - $(times_ms "$dir/t0")))
  after=$(pg_ticks)
  line=$(tail -1 "$dir/out")
  flows=$(echo "$line" | sed -n 's/.*"issuances":\([0-9]*\).*/\1/p')
  python3 - "$label" "$line" "$flows" "$cpu" "$before" "$after" "$ticks" <<'EOF'
import json, sys
label, line, flows, cpu, before, after, ticks = sys.argv[1:]
r = json.loads(line)
flows = int(flows)
lab = int(cpu) / flows
pg = (int(after) - int(before)) * 1000 / int(ticks) / flows
print(f"{label}: {r['per_second']} flows/s, request p50/p99 {r['request_p50_ms']}/{r['request_p99_ms']} ms, "
      f"flow p50/p99 {r['flow_p50_ms']}/{r['flow_p99_ms']} ms, mismatched {r['mismatched']}, errors {r['errors']}; "
      f"CPU per flow: lab {lab:.2f} ms, PostgreSQL {pg:.2f} ms")
EOF
}

for i in $(seq "$runs"); do
  one "run $i, this build" "$lab"
  if [ -n "$against" ]; then one "run $i, $against" "$against"; fi
done
