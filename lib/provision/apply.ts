import { sh, shQuote } from '../runner/quote.js';
import { UNCHANGED, type FileAction, type LinkAction } from './actions.js';

/** Backups live outside config directories: certbot runs every file in its hooks dir, apt reads apt.conf.d. */
export const BACKUP_DIR = '/var/backups/rtcops';

export function backupPath(path: string): string {
  return `${BACKUP_DIR}${path}.prev`;
}

/**
 * Installs one file atomically: write beside it, fix mode and owner, keep the old one in BACKUP_DIR, rename over,
 * validate in place, and put the old file back if validation fails (exit 3 with the validator's output).
 */
export function fileInstallScript(a: FileAction): string {
  const dst = shQuote(a.path);
  const bak = shQuote(backupPath(a.path));
  return [
    `dst=${dst}; bak=${bak}; new="$dst.rtcops-new"`,
    // Only missing parents are created: install -d would also re-chmod an existing one (e.g. the app's 0750 dirs).
    '[ -d "$(dirname "$dst")" ] || install -d -m 0755 "$(dirname "$dst")"',
    'install -d -m 0700 "$(dirname "$bak")"',
    'umask 077',
    `base64 -d > "$new" <<'RTCOPS_EOF'`,
    Buffer.from(a.content).toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd(),
    'RTCOPS_EOF',
    `chown ${shQuote(`${a.owner}:${a.group}`)} "$new" && chmod ${a.mode} "$new"`,
    'had=0; if [ -e "$dst" ]; then cp -a "$dst" "$bak"; had=1; fi',
    'mv -f "$new" "$dst"',
    validateAndRevert(a.validate),
  ].join('\n');
}

export function linkScript(a: LinkAction): string {
  return [
    sh`dst=${a.path}; bak=${backupPath(a.path)}`,
    'install -d -m 0700 "$(dirname "$bak")"',
    'had=0; if [ -e "$dst" ] || [ -L "$dst" ]; then cp -a "$dst" "$bak"; had=1; fi',
    sh`ln -sfn ${a.target} "$dst.rtcops-new" && mv -Tf "$dst.rtcops-new" "$dst"`,
    validateAndRevert(a.validate),
  ].join('\n');
}

function validateAndRevert(validate: string | undefined): string {
  if (validate === undefined) return 'true';
  return [
    `if ! out=$(RTCOPS_FILE="$dst"; export RTCOPS_FILE; { ${validate} ; } 2>&1); then`,
    '  if [ "$had" = 1 ]; then mv -Tf "$bak" "$dst"; else rm -f "$dst"; fi',
    '  printf "validation failed, previous file kept:\\n%s\\n" "$out" >&2; exit 3',
    'fi',
  ].join('\n');
}

/** Restores a file (or removes it when it had no previous version) — the lockout guard's revert. */
export function restoreScript(path: string, hadPrevious: boolean): string {
  return hadPrevious ? sh`mv -Tf ${backupPath(path)} ${path}` : sh`rm -f ${path}`;
}

/** Handlers: run once at the end of a host's run (also when a later step failed), in this order. */
export const HANDLERS: Record<string, string> = {
  'systemd daemon-reload': 'systemctl daemon-reload',
  'reload ssh': 'if systemctl is-active --quiet ssh.socket; then :; else systemctl reload ssh; fi',
  'restart fail2ban': restartAndCheck('fail2ban', 'fail2ban-client ping'),
  // coturn's unit is Type=notify: restart returns once it is listening.
  'restart coturn': restartAndCheck('coturn'),
  // $node_exporter_port is set by the engine; a stopped exporter is started by the services step (or stays off).
  'restart node exporter': `if ! systemctl is-active --quiet prometheus-node-exporter; then echo ${UNCHANGED}; exit 0; fi\n${restartAndCheck('prometheus-node-exporter', '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$node_exporter_port/metrics")" = 401 ]')}`,
  // $relay_guard_unit is set by the engine; reload swaps the table in one nft transaction. The relay-guard step starts it.
  'reload turn relay guard': `if systemctl is-active --quiet "$relay_guard_unit"; then systemctl reload "$relay_guard_unit"; else echo ${UNCHANGED}; fi`,
  'reload nginx': 'if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl restart nginx; fi',
  // $daemon_unit is set by the engine; the daemon step starts it when it is not running yet (then this did nothing, and says so).
  'restart health daemon': `if systemctl is-active --quiet "$daemon_unit"; then systemctl restart "$daemon_unit"; else echo ${UNCHANGED}; fi`,
};

/** Restart, then wait until `ready` succeeds (untilReady). */
function restartAndCheck(unit: string, ready = 'true'): string {
  return `systemctl restart ${unit}\n${untilReady(unit, ready, { what: 'become ready', journalLines: 6 })}`;
}

/**
 * Waits (at most 15 s, no fixed sleep) until `ready` succeeds while the unit stays active, then ends the script with
 * exit 0; a unit that stops, fails or never gets ready ends it with exit 1 and its last journal lines.
 * `unit` goes into the script as is: quote it if it is not a plain name.
 */
export function untilReady(unit: string, ready: string, o: { what: string; journalLines: number }): string {
  const why = `journalctl -u ${unit} -n ${o.journalLines} --no-pager -o cat >&2; exit 1`;
  return [
    'for _ in $(seq 60); do',
    `  if ! systemctl is-active --quiet ${unit}; then ${why}; fi`,
    `  if ${ready} >/dev/null 2>&1; then exit 0; fi`,
    '  sleep 0.25',
    'done',
    `echo "${unit} did not ${o.what} within 15 s" >&2; ${why}`,
  ].join('\n');
}
