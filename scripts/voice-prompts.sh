#!/usr/bin/env bash
# Regenerates the spoken prompts (voice/prompts/<language>/<prompt>.wav) from
# voice/prompts/texts.tsv with Debian's espeak-ng, as 16 kHz 16-bit mono WAV (sox). The files
# are committed: building the kiosk needs neither tool. Run after editing texts.tsv, and commit
# the WAV files with it. espeak-ng is GPL-3.0-or-later; the speech it outputs is not a copy of
# the program and ships under the project's licence (voice/prompts/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "voice-prompts: $tool is missing (bash scripts/setup.sh installs it)" >&2; exit 1; }
done
dir=voice/prompts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
while IFS=$'\t' read -r lang prompt voice text; do
  case "$lang" in ''|'#'*) continue ;; esac
  [ -n "$text" ] || { echo "voice-prompts: $lang/$prompt has no text" >&2; exit 1; }
  mkdir -p "$dir/$lang"
  # -s 150: a little slower than espeak's default, for residents who listen hard.
  espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" "$text"
  # 16 kHz mono 16-bit, no header extras, a normalised level with 1 dB headroom; trailing
  # silence trimmed, 80 ms kept so clips do not run into each other.
  sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" \
    gain -n -1 reverse silence 1 0.02 0.5% reverse pad 0 0.08
  mv "$tmp/out.wav" "$dir/$lang/$prompt.wav"
  n=$((n + 1))
done < "$dir/texts.tsv"
echo "voice-prompts: $n prompts in $dir ($(du -sh "$dir" | cut -f1))"
