import type { ResolvedHost } from '../inventory/index.js';
import type { DeploySlot } from '../inventory/resolve.js';
import { serverPlainEnv } from '../render/server-env.js';
import { APP_PATH, layoutOf, NODE_BIN, PM2_BIN, releaseDir } from '../host/index.js';
import { raw, sh, shJoin } from '../runner/quote.js';

/**
 * What a deploy runs on the host, as plain values (Kamal's commands/*): each function returns the script or argv
 * for one remote operation; engine.ts runs them through SshTarget. Nothing here connects anywhere.
 */

/** Written into each release directory when it is uploaded. */
export const RELEASE_META = '.rtcops-release.json';
/** Present in a release whose deploy failed; holds the reason. */
export const FAILED_MARK = '.rtcops-failed';
/** Present in a release that passed its gate and watch and was kept: when (a rollback to it needs no watch). */
export const SERVED_MARK = '.rtcops-served';
/** The worker binary inside a release (mediasoup's default location, so MEDIASOUP_WORKER_BIN is not needed). */
export const WORKER_PATH = 'node_modules/mediasoup/worker/out/Release/mediasoup-worker';

/** The variable that names a worker for the hosts of one release (MEDIASOUP_WORKER_BIN_DEBIAN_13): an offline-built worker links its release's libraries. */
export function workerEnvFor(os: string): string {
  return `MEDIASOUP_WORKER_BIN_${os.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * One round trip: the releases with their metadata, current and previous, free disk, and whether the host has what a
 * deploy needs (node, pm2, the ecosystem and env files provisioning writes). Prints one JSON document.
 */
export function stateScript(host: ResolvedHost): string {
  const p = layoutOf(host);
  return [
    sh`rel=${p.releases}`,
    'list=$(for d in "$rel"/*/; do d=${d%/}; [ -d "$d" ] || continue; id=${d##*/}',
    `  meta=$(cat "$d/${RELEASE_META}" 2>/dev/null || echo '{}'); failed=$(cat "$d/${FAILED_MARK}" 2>/dev/null || true); served=$(head -c 64 "$d/${SERVED_MARK}" 2>/dev/null || true)`,
    '  size=$(du -sk "$d" 2>/dev/null | cut -f1)',
    '  jq -c -n --arg id "$id" --argjson meta "$meta" --arg failed "$failed" --arg served "$served" --arg size "${size:-0}" \'$meta + {id: $id, sizeKb: ($size|tonumber)} + (if $failed == "" then {} else {failed: $failed} end) + (if $served == "" then {} else {served: ($served | rtrimstr("\\n"))} end)\'',
    'done | jq -s -c .)',
    sh`cur=$(readlink ${p.current} 2>/dev/null || true); prev=$(readlink ${p.previous} 2>/dev/null || true)`,
    `free=$(df -Pk "$rel" | awk 'NR==2 {print $4}')`,
    'missing=()',
    `[ -x ${NODE_BIN} ] || missing+=(${NODE_BIN})`,
    `[ -x ${PM2_BIN} ] || missing+=(${PM2_BIN})`,
    sh`[ -f ${host.app.ecosystemFile} ] || missing+=(${host.app.ecosystemFile})`,
    sh`[ -f ${host.app.envFile} ] || missing+=(${host.app.envFile})`,
    'jq -c -n --argjson releases "${list:-[]}" --arg cur "${cur##*/}" --arg prev "${prev##*/}" --arg free "${free:-0}" --arg missing "${missing[*]:-}" \\',
    '  \'{releases: $releases, current: (if $cur == "" then null else $cur end), previous: (if $prev == "" then null else $prev end), freeKb: ($free|tonumber), missing: ($missing | split(" ") | map(select(. != "")))}\'',
  ].join('\n');
}

/**
 * argv that unpacks the release tarball from stdin into releases/<id>: into a hidden partial directory first, then
 * renamed, so a half-written release is never listed. Files are root's and read-only to the app user.
 */
export function receiveArgv(host: ResolvedHost, id: string, meta: Record<string, unknown>): string[] {
  const script = [
    'set -euo pipefail',
    'rel=$1; id=$2; meta=$3',
    'tmp="$rel/.$id.partial"',
    'rm -rf "$tmp"; [ ! -e "$rel/$id" ] || { echo "release $id already exists" >&2; exit 1; }',
    'mkdir -m 0755 "$tmp"',
    'trap \'rm -rf "$tmp"\' EXIT',
    'tar -xzf - -C "$tmp" --no-same-owner --no-same-permissions',
    `[ -f "$tmp/dist/server/main.js" ] || { echo "the artifact has no dist/server/main.js" >&2; exit 1; }`,
    `printf '%s\\n' "$meta" > "$tmp/${RELEASE_META}"`,
    'chown -R root:root "$tmp"; chmod -R go-w,a+rX "$tmp"',
    'mv -T "$tmp" "$rel/$id"',
    'trap - EXIT',
  ].join('\n');
  return ['bash', '-c', script, 'receive', host.app.releasesDir, id, JSON.stringify(meta)];
}

/** Shared files linked into the release, so it runs the same way from any directory it is started in. */
export function linkSharedScript(host: ResolvedHost, id: string): string {
  const dir = releaseDir(host, id);
  return [
    sh`ln -sfn ${host.app.envFile} ${`${dir}/.env`}`,
    sh`ln -sfn ${host.app.logDir} ${`${dir}/logs`}`,
  ].join('\n');
}

/**
 * The release checks its own configuration before anything serving traffic changes: the server's --check-config with
 * the environment PM2 gives it (plain values and the 0600 env file), as the app user, and the mediasoup worker's
 * shared libraries all present.
 */
export function checkConfigScript(host: ResolvedHost, id: string, slot: DeploySlot): string {
  const dir = releaseDir(host, id);
  const env = Object.entries(serverPlainEnv(host, slot)).map(([k, v]) => `${k}=${v}`);
  const worker = `${dir}/${WORKER_PATH}`;
  return [
    sh`worker=${worker}`,
    'if [ -z "${MEDIASOUP_WORKER_BIN:-}" ]; then',
    '  [ -x "$worker" ] || { echo "the release has no mediasoup worker at $worker" >&2; exit 3; }',
    `  if missing=$(ldd "$worker" | grep "not found"); then echo "the mediasoup worker misses shared libraries: $missing (a worker built on another release than this host's ${host.os}: deploy one built for it, ${workerEnvFor(host.os)})" >&2; exit 3; fi`,
    'fi',
    sh`cd ${dir}`,
    sh`runuser -u ${host.app.user} -- ${raw(shJoin(['env', '-i', `PATH=${APP_PATH}`, `HOME=${layoutOf(host).home}`, ...env, NODE_BIN, `--env-file=${host.app.envFile}`, `${dir}/dist/server/main.js`, '--check-config']))}`,
  ].join('\n');
}

/** Marks a release as kept: it passed its gate and watch and serves (the time, UTC). */
export function markServedScript(host: ResolvedHost, id: string, at: string): string {
  return sh`printf '%s\n' ${at} > ${`${releaseDir(host, id)}/${SERVED_MARK}`}`;
}

/** Marks a release as failed (it stays listed, a rollback skips it, a prune deletes it like any other). */
export function markFailedScript(host: ResolvedHost, id: string, reason: string): string {
  return sh`printf '%s\\n' ${reason.slice(0, 500)} > ${`${releaseDir(host, id)}/${FAILED_MARK}`}`;
}

/**
 * The switch: `current` is replaced by a rename of a new symlink (atomic); `previous` is set to the release a rollback
 * returns to (removed when there is none).
 */
export function switchScript(host: ResolvedHost, id: string, previous: string | undefined): string {
  const p = layoutOf(host);
  const link = (path: string, target: string) => sh`ln -sfn ${target} ${`${path}.tmp`} && mv -T ${`${path}.tmp`} ${path}`;
  return [
    previous !== undefined && previous !== id ? link(p.previous, releaseDir(host, previous)) : sh`rm -f ${p.previous}`,
    link(p.current, releaseDir(host, id)),
  ].join('\n');
}

/** Sizes of the server's log files, so what a failed release wrote can be cut out afterwards. */
export function logSizesScript(host: ResolvedHost): string {
  return sh`stat -c %s ${host.app.outLog} ${host.app.errorLog} 2>/dev/null || echo 0; true`;
}

/** What the server logged since the given offsets (the failed release's own lines), the last lines of it. */
export function logsSinceScript(host: ResolvedHost, offsets: number[], lines = 40): string {
  // The deploy's and the daemon's own probe calls (their rooms) are not what the release did: left out.
  return [host.app.outLog, host.app.errorLog]
    .map((f, i) => sh`tail -c +${(offsets[i] ?? 0) + 1} ${f} 2>/dev/null | { grep -a -v -E '"room":"rtcops-(deploy|health)-' || true; } | tail -n ${lines} | sed 's/^/${raw(i === 0 ? 'out' : 'err')}: /'`)
    .join('\n');
}

/** Deletes releases (and leftovers of interrupted uploads); never the ones `current` and `previous` point at. */
export function pruneScript(host: ResolvedHost, ids: string[]): string {
  const p = layoutOf(host);
  return [
    sh`cur=$(readlink -f ${p.current} 2>/dev/null || true); prev=$(readlink -f ${p.previous} 2>/dev/null || true)`,
    sh`for d in ${ids.map((id) => releaseDir(host, id))} ${p.releases}/.*.partial; do`,
    '  [ -e "$d" ] || continue',
    '  [ "$d" = "$cur" ] || [ "$d" = "$prev" ] || rm -rf "$d"',
    'done',
  ].join('\n');
}

/** Writes the deploy marker for the health daemon (readable by its user; replaced in one rename). */
export function deployMarkerScript(host: ResolvedHost, marker: object): string {
  const { daemonStateDir, deployMarker } = layoutOf(host);
  return sh`install -d -m 0755 ${daemonStateDir}\nprintf '%s\\n' ${JSON.stringify(marker)} > ${`${deployMarker}.tmp`}\nchmod 0644 ${`${deployMarker}.tmp`}\nmv -f ${`${deployMarker}.tmp`} ${deployMarker}`;
}
