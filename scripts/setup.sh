#!/usr/bin/env bash
# Installs whatever is missing for `npm start` and `npm test` on a fresh Debian machine:
# Debian packages (sshd, zfs-fuse, chromium, ...), the Temporal CLI built with Go into .tools/,
# and npm packages. Everything it installs is reused when present, so a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=v1.5.1
APT_PACKAGES=(openssh-server openssh-client zfs-fuse fdisk chromium fonts-noto-color-emoji lsof e2fsprogs xfsprogs util-linux procps psmisc curl iproute2 python3 sanoid runit)

log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; run this as root (or install them) and try again"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .tools/bin/temporal ]]; then
  command -v go >/dev/null || { log "Go is needed to build the Temporal CLI (https://go.dev/dl/)"; exit 1; }
  log "building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (a few minutes the first time)"
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}"
fi

# test/maas-emulator.test.ts builds an unmodified Go MAAS client inside a test shard's network
# namespace, which has no network: fetch its modules here (nothing to fetch once they are cached).
if ! (cd lab/emulators/maas/client-check && GOPROXY=off go mod download 2>/dev/null); then
  log "fetching the Go modules of the MAAS client check (lab/emulators/maas/client-check)"
  (cd lab/emulators/maas/client-check && go mod download)
fi

node scripts/check-lock.js
if ! node scripts/check-lock.js installed; then
  log "installing npm packages (npm ci: exactly the locked versions)"
  # `npm ci` never rewrites package-lock.json, so a fresh checkout stays clean. It refuses a lock that
  # lacks other platforms' optional packages (@swc/core-darwin-*, ...); check-lock.js above catches
  # that first and says how to write a complete lock.
  npm ci --no-audit --no-fund --loglevel=error
fi
