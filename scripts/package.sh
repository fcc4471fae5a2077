#!/usr/bin/env bash
# Builds the Debian packages of the kiosk (madoguchi) and the backend (madoguchi-backend) into
# dist/ with dpkg-deb and hand-written control files: cargo-deb is not packaged in Debian 12 and
# would have to be fetched and built from crates.io; dpkg-deb is in every Debian.
#
#   bash scripts/package.sh [--out DIR] [--version V] [--bin-dir DIR] [--compression xz|gzip|none]
#                           [--kiosk-config FILE]
#
# --bin-dir takes already built binaries (madoguchi, madoguchi-backend) instead of building them
# with `cargo build --release`; --version overrides the workspace's version (an upgrade test
# builds 0.1.0 and 0.1.0+1); --compression none saves tests minutes of xz; --kiosk-config ships
# another file than firmware/kiosk.example.toml as /etc/madoguchi/kiosk.toml (an upgrade test
# ships a changed one). Prints the path of each .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/dist
VERSION=""
BIN_DIR=""
COMPRESSION=xz
KIOSK_CONFIG=firmware/kiosk.example.toml
while (($#)); do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --bin-dir) BIN_DIR=$2; shift 2 ;;
    --compression) COMPRESSION=$2; shift 2 ;;
    --kiosk-config) KIOSK_CONFIG=$(realpath "$2"); shift 2 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$VERSION" ] || VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [ -z "$BIN_DIR" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/madoguchi/target}"
  cargo build --release -p madoguchi-firmware --bin madoguchi >&2
  cargo build --release -p madoguchi-backend --bin madoguchi-backend >&2
  BIN_DIR=$CARGO_TARGET_DIR/release
fi
ARCH=$(dpkg --print-architecture)
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Maintainer scripts. They honour $DPKG_ROOT (dpkg --root --force-script-chrootless) and touch
# the running system (systemd, udev) only when it is the one being installed to.
maintainer_scripts() { # NAME DEBIAN_DIR CONFFILE
  local name=$1 dir=$2 conffile=$3
  cat > "$dir/postinst" <<EOS
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
  # the system user and its device groups (the unit runs as it)
  systemd-sysusers --root="\${DPKG_ROOT:-/}" - < "\${DPKG_ROOT:-}/usr/lib/sysusers.d/$name.conf"
  # state (outbox, audit log, money journal) lives here and is never part of the package:
  # upgrades and removal leave it alone
  install -d -m 0700 "\${DPKG_ROOT:-}/var/lib/$name"
  # the service's user reads its configuration (mode 0640): the group by number, as the
  # names are the target root's
  gid=\$(awk -F: '\$1 == "$name" { print \$3 }' "\${DPKG_ROOT:-}/etc/group")
  [ -z "\$gid" ] || chgrp "\$gid" "\${DPKG_ROOT:-}$conffile"
  if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    udevadm control --reload-rules 2>/dev/null || true
    if [ -z "\$2" ]; then systemctl enable $name.service; else systemctl try-restart $name.service; fi
  fi
fi
EOS
  cat > "$dir/prerm" <<EOS
#!/bin/sh
set -e
if [ "\$1" = remove ] && [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now $name.service || true
fi
EOS
  cat > "$dir/postrm" <<EOS
#!/bin/sh
set -e
if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOS
  chmod 0755 "$dir/postinst" "$dir/prerm" "$dir/postrm"
}

# One package: NAME BINARY DESCRIPTION DEPENDS CONFFILE(installed path) CONFFILE_SOURCE LICENCE
build_deb() {
  local name=$1 bin=$2 desc=$3 depends=$4 conffile=$5 conf_src=$6 licence=$7
  local pkg=$WORK/$name
  install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" "$pkg/usr/lib/sysusers.d" \
    "$pkg/usr/share/doc/$name" "$pkg$(dirname "$conffile")"
  install -m 0755 "$BIN_DIR/$bin" "$pkg/usr/bin/$bin"
  strip --strip-unneeded "$pkg/usr/bin/$bin"
  install -m 0644 "deploy/systemd/$name.service" "$pkg/usr/lib/systemd/system/"
  install -m 0644 "deploy/debian/$name.sysusers" "$pkg/usr/lib/sysusers.d/$name.conf"
  install -m 0640 "$conf_src" "$pkg$conffile"
  echo "$conffile" > "$pkg/DEBIAN/conffiles"
  printf 'madoguchi %s\nLicense: %s\nSource: https://example.invalid/madoguchi (this repository)\n' \
    "$name" "$licence" > "$pkg/usr/share/doc/$name/copyright"
  maintainer_scripts "$name" "$pkg/DEBIAN" "$conffile"
  local size
  size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
  cat > "$pkg/DEBIAN/control" <<EOC
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: madoguchi <madoguchi@example.invalid>
Section: misc
Priority: optional
Installed-Size: $size
Depends: $depends
Description: $desc
EOC
  local deb=$OUT/${name}_${VERSION}_${ARCH}.deb
  dpkg-deb --root-owner-group "-Z$COMPRESSION" --build "$pkg" "$deb" >/dev/null
  echo "$deb"
}

# The kiosk: its unit, the example configuration as /etc/madoguchi/kiosk.toml (a conffile:
# an upgrade keeps the site's edits), udev rules for printer, cash unit, readers, GPIO and touch.
kiosk_pkg=$WORK/madoguchi
install -d "$kiosk_pkg/usr/lib/udev/rules.d" "$kiosk_pkg/usr/share/doc/madoguchi"
install -m 0644 deploy/udev/60-madoguchi.rules "$kiosk_pkg/usr/lib/udev/rules.d/"
install -m 0644 README.md "$kiosk_pkg/usr/share/doc/madoguchi/README.md"
# shared libraries (libinput, udev, xkbcommon: the KMS display and touch; pcsclite; fontconfig;
# ALSA for the voice guide),
# pcscd for the readers, the fonts the screens and certificates are set in
build_deb madoguchi madoguchi \
  "certificate kiosk (コンビニ交付): full-screen touch UI on DRM/KMS, card readers, printer, cash unit" \
  "libc6 (>= 2.34), libgcc-s1, libinput10, libudev1, libxkbcommon0, libpcsclite1, libfontconfig1, libasound2, pcscd, systemd, fonts-ipaexfont-mincho, fonts-ipaexfont-gothic, fonts-ipamj-mincho, fonts-dejavu-core, fonts-wqy-microhei" \
  /etc/madoguchi/kiosk.toml "$KIOSK_CONFIG" GPL-3.0-or-later

backend_pkg=$WORK/madoguchi-backend
install -d "$backend_pkg/usr/share/doc/madoguchi-backend"
install -m 0644 backend/README.md "$backend_pkg/usr/share/doc/madoguchi-backend/README.md"
build_deb madoguchi-backend madoguchi-backend \
  "municipal issuance backend for madoguchi kiosks (mutual TLS, SQLite or PostgreSQL)" \
  "libc6 (>= 2.34), libgcc-s1, systemd" \
  /etc/madoguchi-backend/madoguchi-backend.toml deploy/madoguchi-backend.example.toml "MIT OR Apache-2.0"
