import { FAILED_MARK, RELEASE_META, stateScript } from '../deploy/commands.js';
import { ACME_CA_PATH, CERTBOT_DROPIN, DEPLOY_LOG, layoutOf, LETSENCRYPT, LOG_DIR, pm2As, PROVISION_LOG, releaseDir } from '../host/index.js';
import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import { renderHost } from '../render/index.js';
import { raw, sh, shQuote } from '../runner/quote.js';

/**
 * What a backup reads and a restore writes on a host, as plain values: the paths, and the scripts and argv that
 * engine code runs through the one runner. Nothing here connects anywhere.
 */

export type PathKind = 'config' | 'state' | 'log';

export interface BackupPaths {
  /** Non-secret files, pulled as they are. */
  plain: { path: string; kind: PathKind }[];
  /** Secret-bearing files and folders: only ever leave the host into the encrypted member. */
  secret: string[];
}

/** Every file rtcops puts on the host (from the same rendering provisioning uses), its state and its logs. */
export function backupPaths(host: ResolvedHost, secrets: HostSecrets): BackupPaths {
  const files = renderHost(host, secrets).files;
  return {
    plain: [
      ...files.filter((f) => !f.secret).map((f) => ({ path: f.path, kind: 'config' as const })),
      { path: layoutOf(host).nginxEnabledSite, kind: 'config' },
      { path: ACME_CA_PATH, kind: 'config' },
      { path: CERTBOT_DROPIN, kind: 'config' },
      { path: layoutOf(host).alertStateFile, kind: 'state' },
      { path: PROVISION_LOG, kind: 'log' },
      { path: DEPLOY_LOG, kind: 'log' },
    ],
    secret: [...files.filter((f) => f.secret).map((f) => f.path), LETSENCRYPT],
  };
}

export interface FileFact {
  path: string;
  exists: boolean;
  link?: string;
  mode?: string;
  owner?: string;
  group?: string;
  sha256?: string;
  bytes?: number;
}

export interface HostInspection {
  files: FileFact[];
  releases: { releases: { id: string; sha?: string; ref?: string; builtAt?: string; uploadedAt?: string; uploadedBy?: string; failed?: string }[]; current: string | null; previous: string | null; freeKb: number; missing: string[] };
  tls: { fingerprint: string; notAfter: string };
  os: string;
  hostname: string;
  /** PM2's status of the app ('' when PM2 or the app is absent). */
  pm2: string;
  letsencrypt: boolean;
}

/** One round trip: each path's type, mode, owner and SHA-256; the releases; the certificate; what runs. */
export function inspectScript(host: ResolvedHost, paths: string[]): string {
  return [
    'fact() { local p=$1',
    '  if [ -L "$p" ]; then jq -cn --arg p "$p" --arg l "$(readlink "$p")" \'{path: $p, exists: true, link: $l}\'',
    '  elif [ -f "$p" ]; then local m o g b s; read -r m o g b <<<"$(stat -c \'%a %U %G %s\' "$p")"; s=$(sha256sum "$p" | cut -d" " -f1)',
    '    jq -cn --arg p "$p" --arg m "$m" --arg o "$o" --arg g "$g" --arg s "$s" --argjson b "$b" \'{path: $p, exists: true, mode: $m, owner: $o, group: $g, sha256: $s, bytes: $b}\'',
    '  else jq -cn --arg p "$p" \'{path: $p, exists: false}\'; fi; }',
    `files=$(for p in ${paths.map(shQuote).join(' ')}; do fact "$p"; done | jq -sc .)`,
    `releases=$(${stateScript(host)}\n)`,
    sh`cert=${host.tls.fullchain}`,
    'fp=$(openssl x509 -in "$cert" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 || true)',
    'na=$(openssl x509 -in "$cert" -noout -enddate 2>/dev/null | cut -d= -f2 || true)',
    'os=$(. /etc/os-release && echo "$PRETTY_NAME")',
    sh`pm2=$(${raw(pm2As(host, ['jlist']))} 2>/dev/null | jq -r --argjson names ${JSON.stringify([host.app.name, host.app.slots.a.pm2Name, host.app.slots.b.pm2Name])} '[.[] | select(.name as $n | $names | index($n)) | .pm2_env.status] | (map(select(. == "online"))[0] // .[0] // "")' 2>/dev/null || true)`,
    `le=false; [ -d ${LETSENCRYPT}/live ] && le=true`,
    'jq -cn --argjson files "$files" --argjson releases "$releases" --arg fp "$fp" --arg na "$na" --arg os "$os" --arg hn "$(hostname)" --arg pm2 "$pm2" --argjson le "$le" \\',
    '  \'{files: $files, releases: $releases, tls: {fingerprint: $fp, notAfter: $na}, os: $os, hostname: $hn, pm2: $pm2, letsencrypt: $le}\'',
  ].join('\n');
}

/** A gzipped tar of host paths on stdout (paths relative to /, symlinks kept as links); a file gone meanwhile is skipped. */
export function tarArgv(paths: string[]): string[] {
  return ['tar', '--ignore-failed-read', '-czf', '-', '-C', '/', '--', ...paths.map((p) => p.replace(/^\/+/, ''))];
}

/** The release directory as a deploy artifact on stdout: everything but what a deploy adds (meta, marks, links). */
export function releaseTarScript(host: ResolvedHost, id: string): string {
  return [
    sh`cd ${releaseDir(host, id)}`,
    `find . -mindepth 1 -maxdepth 1 ! -name ${RELEASE_META} ! -name ${FAILED_MARK} ! -name .env ! -name logs -printf '%P\\0' | LC_ALL=C sort -z | tar --null -T - -czf -`,
  ].join('\n');
}

/** Puts /etc/letsencrypt back from the (decrypted) secrets tarball on stdin, owners by name, modes as they were. */
export function putBackLetsencryptArgv(): string[] {
  return ['tar', '-xzf', '-', '-C', '/', '--same-owner', '--same-permissions', LETSENCRYPT.slice(1)];
}

/** An audit log put back as history, only where the host has none yet (a fresh host). */
export function putBackLogScript(path: string): string {
  return [
    `install -d -m 0750 ${LOG_DIR}`,
    sh`f=${path}`,
    'if [ -s "$f" ]; then cat >/dev/null; echo kept; exit 0; fi',
    'umask 027; cat > "$f.restore"; mv -f "$f.restore" "$f"; echo restored',
  ].join('\n');
}

/** The daemon's alert state back in place: the daemon stopped meanwhile so it does not overwrite it. */
export function putBackAlertStateScript(host: ResolvedHost): string {
  const { alertStateFile: f, daemonUnit: unit } = layoutOf(host);
  return [
    sh`f=${f}; unit=${unit}; u=${host.app.user}`,
    'systemctl stop "$unit"',
    '[ -d "$(dirname "$f")" ] || install -d -m 0755 -o "$u" -g "$u" "$(dirname "$f")"',
    'umask 077; cat > "$f.restore"; chown "$u:$u" "$f.restore"; mv -f "$f.restore" "$f"',
    'systemctl start "$unit"',
  ].join('\n');
}
