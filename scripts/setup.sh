#!/usr/bin/env bash
# Sourced by test.sh and demo.sh: installs what madoguchi needs on Debian 12 (system packages
# and, if missing, a Rust toolchain) and picks the cargo target directory.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config curl ca-certificates util-linux iproute2 jq openssl
  pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc      # smart cards: real pcscd + virtual reader
  qpdf poppler-utils fonts-ipaexfont fonts-ipamj-mincho         # documents (printing issue)
  libfontconfig1-dev fonts-dejavu-core fonts-wqy-microhei       # UI: Latin/Vietnamese, Chinese and Korean glyphs
  libinput-dev libudev-dev libxkbcommon-dev                     # UI on DRM/KMS (slint linuxkms): touch, devices, keymaps
  postgresql                                                    # backend tests run a private cluster
  python3-venv                                                  # schemathesis (API contract test) in a virtualenv
  systemd                                                       # systemd-analyze verify/security of deploy/systemd units
  chromium                                                      # the municipality console's browser test (Playwright drives it)
  libasound2-dev espeak-ng sox                                  # voice guidance: ALSA playback; prompts made (scripts/voice-prompts.sh) and measured
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup: installing the Rust toolchain (rustup)" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt >&2
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# One target directory outside the checkout survives between CI runs on the same machine
# (slint, printpdf and RSA crates are slow to build on 2 cores); override to taste.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/madoguchi/target}"

# schemathesis checks the backend's API contract (backend/tests/backend_contract.rs): a pinned
# version in its own virtualenv beside the target directory, made once per machine.
ST_VENV="$HOME/.cache/madoguchi/schemathesis-4.32.5"
if [ ! -x "$ST_VENV/bin/st" ]; then
  echo "setup: installing schemathesis 4.32.5 (pip, in $ST_VENV)" >&2
  python3 -m venv "$ST_VENV" >&2
  "$ST_VENV/bin/pip" install -q "schemathesis==4.32.5" >&2
fi
export SCHEMATHESIS="$ST_VENV/bin/st"

# Playwright for Python drives Debian's chromium (executable_path, no browser download) in the
# municipality console's browser test (backend/tests/console_browser.rs): a pinned version in
# its own virtualenv, made once per machine.
PW_VENV="$HOME/.cache/madoguchi/playwright-1.49.1"
if [ ! -x "$PW_VENV/bin/python" ] || ! "$PW_VENV/bin/python" -c "import playwright" 2>/dev/null; then
  echo "setup: installing playwright 1.49.1 (pip, in $PW_VENV)" >&2
  python3 -m venv "$PW_VENV" >&2
  "$PW_VENV/bin/pip" install -q "playwright==1.49.1" >&2
fi
export PLAYWRIGHT_PYTHON="$PW_VENV/bin/python"
