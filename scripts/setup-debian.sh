#!/usr/bin/env bash
# Installs what badge-kiosk needs on Debian 12/13: system libraries for Slint (winit,
# linuxkms), nokhwa's V4L2 bindings (libclang), ALSA for the kiosk's sounds, and, with
# --test, the tools the test suite drives (Xvfb, xdotool, zbar, poppler, ImageMagick,
# libfiu and gcc for fault injection, Node.js for the independent verifier, Chromium and
# chromedriver for the console's browser test).
# Idempotent: installs only what is missing.
set -euo pipefail

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

runtime=(pkg-config libclang-dev clang libfontconfig1-dev libxkbcommon-dev libinput-dev
         libudev-dev libgbm-dev libdrm-dev libasound2-dev fonts-dejavu-core)
testing=(xvfb xdotool x11-utils zbar-tools poppler-utils librsvg2-bin imagemagick sqlite3 openssl fiu-utils gcc nodejs npm
         chromium chromium-driver)

packages=("${runtime[@]}")
(( want_test )) && packages+=("${testing[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node from another source (nvm, nodesource) counts as installed.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"

if (( ${#missing[@]} )); then
  sudo=""
  (( EUID != 0 )) && sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: Rust is missing. Install it with rustup (https://rustup.rs), Rust 1.92 or newer, then run this again." >&2
  exit 1
fi
