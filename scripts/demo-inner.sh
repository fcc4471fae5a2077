#!/usr/bin/env bash
# Runs inside demo.sh's namespaces.
set -euo pipefail
BIN="$1"; OUT="$2"; WORLD="$OUT/world"
mkdir -p /run/pcscd && mount -t tmpfs tmpfs /run/pcscd

# vpcd listens on PORT (slot 0, our contact reader) and PORT+1 (slot 1, contactless).
PORT=35963
while ss -Hltn "( sport = :$PORT or sport = :$((PORT + 1)) )" | grep -q .; do PORT=$((PORT + 2)); done
mkdir -p "$OUT/reader.conf.d"
printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x%04X\nLIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x%04X\n' \
  "$PORT" "$PORT" > "$OUT/reader.conf.d/vpcd"
pcscd -f -c "$OUT/reader.conf.d" > "$OUT/pcscd.log" 2>&1 &
for _ in $(seq 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done

READERS=(--contact "Virtual PCD 00 00" --contactless "Virtual PCD 00 01")
ANCHORS=(--anchors "$WORLD/anchors" --allow-test-anchors)
resident() { jq -r --arg t "$1" '[.residents[] | select(.tags | index($t))][0]' "$WORLD/manifest.json"; }
place() { # profile, port, extra args...: start a virtual card and wait until the kiosk sees it
  local profile="$1" port="$2"; shift 2
  "$BIN/madoguchi-sim" card --profile "$profile" --vpcd "127.0.0.1:$port" "$@" < /dev/null > "$OUT/card.log" 2>&1 &
  CARD=$!
}
take() { # take the card away and wait until the reader has seen it go
  kill "$CARD"; wait "$CARD" 2>/dev/null || true
  "$BIN/madoguchi" card watch --until removed --timeout 15 "${READERS[@]}" > /dev/null
}
banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

R=$(resident household-head)
NAME=$(jq -r .name <<<"$R"); PIN=$(jq -r .auth_pin <<<"$R")
cp "$WORLD/$(jq -r .card_profile <<<"$R")" "$OUT/card.json"
banner "$NAME places a My Number Card on the contactless reader"
place "$OUT/card.json" $((PORT + 1))
"$BIN/madoguchi" card info --wait 15 "${READERS[@]}" "${ANCHORS[@]}"
banner "A wrong PIN (0000): one try is spent, and the count shows it"
echo 0000 | "$BIN/madoguchi" card auth-check "${READERS[@]}" || true
"$BIN/madoguchi" card pin-status "${READERS[@]}"
banner "The right PIN: the card signs a fresh challenge, the signature verifies, the count resets"
echo "$PIN" | "$BIN/madoguchi" card auth-check "${READERS[@]}"
take

for TAG in certs-expiring-soon certs-expired pin-blocked; do
  R=$(resident "$TAG")
  cp "$WORLD/$(jq -r .card_profile <<<"$R")" "$OUT/card.json"
  banner "$(jq -r .name <<<"$R") ($TAG) on the contact reader"
  place "$OUT/card.json" "$PORT"
  "$BIN/madoguchi" card info --wait 15 "${READERS[@]}" "${ANCHORS[@]}" || true
  take
done

R=$(resident phone-iphone)
cp "$WORLD/$(jq -r .phone_profiles.iphone <<<"$R")" "$OUT/card.json"
banner "$(jq -r .name <<<"$R") holds an iPhone to the contactless reader"
place "$OUT/card.json" $((PORT + 1)) --token iphone
"$BIN/madoguchi" card info --wait 15 "${READERS[@]}" "${ANCHORS[@]}"
take
banner "Done. The world is in $WORLD (manifest.json lists every resident, PIN and tag)."
