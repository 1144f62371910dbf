#!/usr/bin/env bash
# Builds mediasoup's worker for another Debian release with ../shared/tools/build-mediasoup-worker.sh, run inside a
# throw-away root of that release (mmdebstrap), so the worker links that release's libraries (Debian 13's abseil is
# libabsl20240722; one built on Debian 12 needs libabsl20220623, which Debian 13 does not have).
#
#   bash .ci/worker-in-release-root.sh trixie [VERSION]     (as root; prints the worker's path as its last line)
#
# Cached in ~/.cache/rtcops/mediasoup/<suite>/; the root is removed afterwards. Node.js, npm and this machine's CA
# bundle are bind-mounted / copied in read-only (the tool runs npm pack against the registry).
set -euo pipefail
SUITE="${1:?usage: worker-in-release-root.sh SUITE [VERSION]}"
VERSION="${2:-3.27.1}"
TOOLS="$(cd "$(dirname "$0")/../.." && pwd)/shared/tools"
OUT="${XDG_CACHE_HOME:-$HOME/.cache}/rtcops/mediasoup/$SUITE/mediasoup-worker-$VERSION"
if [ -x "$OUT" ]; then echo "$OUT"; exit 0; fi
exec 3>&1 1>&2
NODE_BIN_DIR="$(dirname "$(readlink -f "$(command -v node)")")"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
ROOT="$(mktemp -d /var/tmp/rtcops-worker-root-XXXXXX)"
cleanup() {
  for m in opt/tools opt/npm opt/node dev proc; do mountpoint -q "$ROOT/$m" && umount "$ROOT/$m"; done
  rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

mmdebstrap --variant=minbase --include=ca-certificates,python3 "$SUITE" "$ROOT" \
  "deb http://deb.debian.org/debian $SUITE main" "deb http://deb.debian.org/debian-security $SUITE-security main"
mkdir -p "$ROOT/opt/node" "$ROOT/opt/npm" "$ROOT/opt/tools" "$ROOT/usr/local/bin"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind -o ro "$NODE_BIN_DIR" "$ROOT/opt/node"
mount --bind -o ro "$NPM_DIR" "$ROOT/opt/npm"
mount --bind -o ro "$TOOLS" "$ROOT/opt/tools"
printf '#!/bin/sh\nexec /opt/node/node /opt/npm/bin/npm-cli.js "$@"\n' > "$ROOT/usr/local/bin/npm"
chmod +x "$ROOT/usr/local/bin/npm"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/opt/host-ca.crt"
# The tool also reads sid's lists, whose Release file this machine's clock may call expired.
echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99rtcops-no-valid-until"

chroot "$ROOT" env PATH=/usr/local/bin:/opt/node:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  NODE_EXTRA_CA_CERTS=/opt/host-ca.crt npm_config_cafile=/opt/host-ca.crt \
  nice -n 10 bash /opt/tools/build-mediasoup-worker.sh "$VERSION"
mkdir -p "$(dirname "$OUT")"
cp "$ROOT/root/.cache/rtcops/mediasoup/worker-bin/mediasoup-worker-$VERSION" "$OUT.new" && mv "$OUT.new" "$OUT"
echo "$OUT" >&3
