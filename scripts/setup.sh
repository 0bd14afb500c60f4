#!/usr/bin/env bash
# Sets up everything colo-ft needs on a Debian host (run as root, or with sudo):
# system packages when missing, then npm ci and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# cpio and xz-utils build the tiny test guest (scripts/guest/build-guest.sh).
packages=(qemu-system-x86 qemu-utils nats-server socat openssl chromium systemd iproute2 cpio xz-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run --silent build
echo "setup: ready (qemu $(qemu-system-x86_64 --version | head -1 | awk '{print $4}'), $(nats-server --version))"
