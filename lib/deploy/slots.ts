import type { ResolvedHost } from '../inventory/index.js';
import { SLOT_NAMES, type DeploySlot, type SlotName } from '../inventory/resolve.js';
import { APP_PATH, layoutOf, NODE_BIN, pm2As, releaseDir } from '../host/index.js';
import { raw, sh } from '../runner/quote.js';

/**
 * The two deploy slots on a host, as plain values: which one nginx sends callers to (its upstream file), the commands
 * that start a release in a slot, switch nginx to it and stop the other. Nothing here connects anywhere.
 */

/** nginx's upstream name for the slot that serves (templates/nginx/site.conf.njk proxies to it). */
export function upstreamName(host: ResolvedHost): string {
  return `${host.app.name.replaceAll('-', '_')}_live`;
}

/** The upstream file: the one place that says which slot serves. */
export function upstreamConf(host: ResolvedHost, slot: DeploySlot): string {
  return [
    `# Written by rtcops: deploy slot ${slot.name} serves (scripts/deploy.mjs switches it, then nginx reloads).`,
    `upstream ${upstreamName(host)} {`,
    `    server 127.0.0.1:${slot.port};`,
    '}',
    '',
  ].join('\n');
}

/** The slot whose port the upstream file names; undefined when it names none (no file yet, edited by hand). */
export function slotOfPort(host: ResolvedHost, port: number | undefined): DeploySlot | undefined {
  return SLOT_NAMES.map((n) => host.app.slots[n]).find((s) => s.port === port);
}

export function otherSlot(host: ResolvedHost, slot: SlotName): DeploySlot {
  return host.app.slots[slot === 'a' ? 'b' : 'a'];
}

/**
 * One JSON line: the port nginx's upstream names, PM2's processes of this app (the two slots and the single process
 * of hosts deployed before slots) with the release each runs from, and the memory available for a second release.
 */
export function slotStateScript(host: ResolvedHost): string {
  const names = [host.app.name, host.app.slots.a.pm2Name, host.app.slots.b.pm2Name];
  return [
    sh`port=$(grep -o '127\\.0\\.0\\.1:[0-9]*' ${host.nginx.upstreamFile} 2>/dev/null | head -1 | cut -d: -f2 || true)`,
    sh`procs=$(${raw(pm2As(host, ['jlist']))} 2>/dev/null | jq -c --argjson names ${JSON.stringify(names)} '[.[] | select(.name as $n | $names | index($n)) | {name, pid, status: .pm2_env.status, restarts: .pm2_env.restart_time}]' 2>/dev/null || echo '[]')`,
    'out=[]',
    'for row in $(jq -c \'.[]\' <<<"$procs"); do',
    '  pid=$(jq -r \'.pid // 0\' <<<"$row"); cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)',
    '  out=$(jq -c --argjson row "$row" --arg cwd "$cwd" \'. + [$row + {cwd: $cwd}]\' <<<"$out")',
    'done',
    'mem=$(awk \'/^MemAvailable:/ {print $2}\' /proc/meminfo 2>/dev/null || true)',
    'jq -c -n --arg port "${port:-}" --argjson procs "$out" --arg mem "${mem:-}" \'{port: ($port | tonumber? // null), procs: $procs, memAvailableKb: ($mem | tonumber? // null)}\'',
  ].join('\n');
}

/** Points the slot's link at a release (atomic rename), so its PM2 process starts from there. */
export function linkSlotScript(host: ResolvedHost, slot: DeploySlot, id: string): string {
  return [
    sh`install -d -m 0755 ${`${host.app.root}/slots`}`,
    sh`ln -sfn ${releaseDir(host, id)} ${`${slot.dir}.tmp`} && mv -T ${`${slot.dir}.tmp`} ${slot.dir}`,
  ].join('\n');
}

/** Starts the slot's PM2 process afresh from its link (whatever it ran before is gone), with the ecosystem's wait_ready. */
export function startSlotScript(host: ResolvedHost, slot: DeploySlot): string {
  return [
    `${pm2As(host, ['delete', slot.pm2Name])} >/dev/null 2>&1 || true`,
    pm2As(host, ['start', host.app.ecosystemFile, '--only', slot.pm2Name, '--update-env']),
  ].join('\n');
}

/**
 * Stops and removes PM2 processes (SIGTERM: the server drains, PM2 kills it after kill_timeout) and saves PM2's list,
 * so a reboot starts only what serves.
 */
export function stopProcsScript(host: ResolvedHost, names: string[]): string {
  return [...names.map((n) => `${pm2As(host, ['delete', n])} >/dev/null 2>&1 || true`), `${pm2As(host, ['save', '--force'])} >/dev/null`].join('\n');
}

/** PM2's list saved: what a reboot (pm2 resurrect) starts. Run only once the slot that serves passed its gate. */
export function pm2SaveScript(host: ResolvedHost): string {
  return `${pm2As(host, ['save', '--force'])} >/dev/null`;
}

/**
 * Switches nginx to a slot: the upstream file replaced in one rename, `nginx -t`, then a graceful reload (old workers
 * finish their connections, WebSockets included; new ones go to the slot). A config nginx refuses puts the old file back.
 */
export function switchUpstreamScript(host: ResolvedHost, slot: DeploySlot): string {
  const f = host.nginx.upstreamFile;
  return [
    'set -e',
    sh`if [ -f ${f} ]; then cp -p ${f} ${`${f}.rtcops-old`}; fi`,
    sh`printf '%s' ${upstreamConf(host, slot)} > ${`${f}.tmp`}`,
    sh`chmod 0644 ${`${f}.tmp`} && mv -f ${`${f}.tmp`} ${f}`,
    sh`if ! out=$(nginx -t -q 2>&1); then if [ -f ${`${f}.rtcops-old`} ]; then mv -f ${`${f}.rtcops-old`} ${f}; fi; echo "nginx refused the switch: $out" >&2; exit 1; fi`,
    sh`rm -f ${`${f}.rtcops-old`}`,
    'systemctl reload nginx',
  ].join('\n');
}

/** Provisioning's first upstream file (slot a), written only when there is none: a re-run never undoes a deploy's switch. */
export function initialUpstreamScript(host: ResolvedHost): string {
  const f = host.nginx.upstreamFile;
  return sh`[ -f ${f} ] || { printf '%s' ${upstreamConf(host, host.app.slots.a)} > ${`${f}.tmp`} && chmod 0644 ${`${f}.tmp`} && mv -f ${`${f}.tmp`} ${f}; }`;
}

/** Loopback health of one slot as one JSON line: PM2's view of its process (pm2Name), its working directory, /healthz and /readyz. */
export function slotProbeScript(host: ResolvedHost, slot: DeploySlot, pm2Name = slot.pm2Name): string {
  const base = `http://127.0.0.1:${slot.port}`;
  return [
    sh`pm2=$(${raw(pm2As(host, ['jlist']))} 2>/dev/null | jq -c --arg n ${pm2Name} '[.[] | select(.name == $n) | {pid, id: .pm_id, status: .pm2_env.status, restarts: .pm2_env.restart_time}][0] // {}' 2>/dev/null || echo '{}')`,
    'pid=$(jq -r \'.pid // 0\' <<<"$pm2")',
    'cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)',
    'get() { local f code; f=$(mktemp); code=$(curl -s -m 3 -o "$f" -w \'%{http_code}\' "$1" 2>/dev/null) || true; jq -c -n --arg code "${code:-0}" --rawfile body "$f" \'{code: ($code|tonumber? // 0), body: $body[0:300]}\'; rm -f "$f"; }',
    sh`hz=$(get ${`${base}/healthz`}); rz=$(get ${`${base}/readyz`})`,
    'jq -c -n --argjson pm2 "$pm2" --arg cwd "$cwd" --argjson healthz "$hz" --argjson readyz "$rz" \'{pm2: $pm2, cwd: $cwd, healthz: $healthz, readyz: $readyz}\'',
  ].join('\n');
}

/**
 * PM2's own log lines about one process (by its pm_id and name): why PM2 restarted it (the memory limit, an exit
 * code or a signal). The last few, from the end of PM2's log.
 */
export function pm2RestartLogScript(host: ResolvedHost, pmId: number, pm2Name: string): string {
  return sh`tail -n 2000 ${`${layoutOf(host).pm2Home}/pm2.log`} 2>/dev/null | { grep -a -F -e ${`Process ${pmId} restarted because`} -e ${`[${pm2Name}:${pmId}]`} || true; } | tail -n 6`;
}

/** What PM2's log says about a restart, for a person: the memory limit (with the figures), or the exit code and signal. */
export function restartCause(lines: string[]): string | undefined {
  for (const line of [...lines].reverse()) {
    const mem = /restarted because it exceeds --max-memory-restart value \(current_memory=(\d+) max_memory_limit=(\d+)/.exec(line);
    if (mem !== null) return `PM2 restarted it for its memory: ${Math.round(Number(mem[1]) / 1048576)} MB, over the limit of ${Math.round(Number(mem[2]) / 1048576)} MB (pm2.maxMemoryRestart)`;
    const exit = /exited with code \[(\w+)\] via signal \[(\w+)\]/.exec(line);
    if (exit !== null) return `it exited with code ${exit[1]} (signal ${exit[2]}), and PM2 restarted it`;
  }
  return undefined;
}

/** argv for /status of one slot through loopback; the admin token goes in on stdin (`-H @-`), never on a command line. */
export function slotStatusArgv(slot: DeploySlot): string[] {
  return ['curl', '-s', '-m', '5', '-f', '-H', '@-', `http://127.0.0.1:${slot.port}/status`];
}

/**
 * A signaling round trip straight to a slot's port, from the host itself (nothing outside reaches 127.0.0.1): run
 * with the release's own `ws`, as the app user; the token comes on stdin. Prints one JSON line: ok, the failing step,
 * and the ports of the ICE candidates the new transport offered.
 */
export function slotSignalingArgv(host: ResolvedHost, id: string): string[] {
  const dir = releaseDir(host, id);
  return ['bash', '-c', 'cd "$1" && exec runuser -u "$2" -- env -i PATH="$3" "$4" --input-type=module -', 'probe', dir, host.app.user, APP_PATH, NODE_BIN];
}

/** The program slotSignalingArgv runs (on its stdin), with the token and the slot's URL in it. */
export function slotSignalingProgram(url: string, token: string, timeoutMs: number): string {
  return `import WebSocket from 'ws';
const url = ${JSON.stringify(url)}, token = ${JSON.stringify(token)}, timeoutMs = ${timeoutMs};
let step = 'connect', id = 0;
const out = (o) => { process.stdout.write(JSON.stringify(o) + '\\n'); process.exit(0); };
setTimeout(() => out({ ok: false, error: step + ': no answer within ' + timeoutMs + ' ms' }), timeoutMs).unref();
const ws = new WebSocket(url, { headers: { authorization: 'Bearer ' + token } });
ws.on('unexpected-response', (_q, res) => out({ ok: false, error: 'connect: upgrade answered HTTP ' + res.statusCode }));
ws.on('error', (e) => out({ ok: false, error: step + ': ' + (e.code ?? e.message) }));
ws.on('close', (c) => out({ ok: false, error: step + ': socket closed (' + c + ')' }));
const ask = (method, data = {}) => new Promise((resolve) => {
  const my = ++id;
  step = method;
  const on = (raw) => { const m = JSON.parse(raw.toString()); if (m.id !== my) return; ws.off('message', on); if (m.ok === true) resolve(m.data ?? {}); else out({ ok: false, error: method + ': ' + (m.error?.code ?? 'error') + ': ' + (m.error?.message ?? '') }); };
  ws.on('message', on);
  ws.send(JSON.stringify({ id: my, method, data }));
});
ws.once('open', async () => {
  const caps = await ask('getRouterRtpCapabilities');
  await ask('join', { rtpCapabilities: { codecs: caps.codecs ?? [], headerExtensions: [] } });
  const t = await ask('createWebRtcTransport', { direction: 'recv' });
  const ports = (t.iceCandidates ?? []).map((c) => c.port);
  await ask('leave');
  ws.removeAllListeners('close');
  ws.terminate();
  out({ ok: true, ports });
});
`;
}

/** The ports a slot's transports may use: its WebRtcServer ports, or its share of the RTC range. */
export function slotMediaPorts(host: ResolvedHost, slot: DeploySlot): { min: number; max: number } {
  return slot.webRtcServerPort === undefined ? slot.rtcPorts : { min: slot.webRtcServerPort, max: slot.webRtcServerPort + host.app.numWorkers - 1 };
}

/**
 * A byte pipe from the SSH channel's stdin/stdout to 127.0.0.1:<port> on the host, as the app user: how the gate's
 * call reaches a slot's signaling from the operator's machine without SSH port forwarding (sshd refuses it by default).
 */
export function slotBridgeArgv(host: ResolvedHost, port: number): string[] {
  const program = "const s = require('net').connect(Number(process.argv[1]), '127.0.0.1'); process.stdin.pipe(s); s.pipe(process.stdout); s.on('error', () => process.exit(1)); s.on('close', () => process.exit(0));";
  return ['runuser', '-u', host.app.user, '--', 'env', '-i', `PATH=${APP_PATH}`, NODE_BIN, '-e', program, String(port)];
}
