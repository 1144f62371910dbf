import { randomBytes } from 'node:crypto';
import { layoutOf } from '../host/index.js';
import type { ResolvedHost } from '../inventory/index.js';
import { RemoteError } from '../runner/errors.js';
import { sh } from '../runner/quote.js';
import type { Runner } from '../runner/runner.js';

/**
 * The per-host deploy lock. A record file says who holds it (and in which phase); a process on the host holds an
 * flock on a second file for as long as the deploy's SSH connection lives. A record whose flock nobody holds is a
 * stale lock: its deploy was killed. It is reported and broken only with --force-unlock.
 */

export interface LockRecord {
  token: string;
  by: string;
  action: string;
  release?: string;
  at: string;
  phase?: string;
  /** The process on the host that holds the flock. */
  holderPid?: number;
  /** The deploy's intent, written before it starts anything (see repair.ts): what served before it, and the slots. */
  from?: string;
  previous?: string;
  live?: string;
  idle?: string;
}

/** What a deploy writes into its lock record once it knows it, before the next phase starts. */
export type Intent = Pick<LockRecord, 'release' | 'from' | 'previous' | 'live' | 'idle'>;

export class LockError extends RemoteError {
  constructor(host: string, message: string, hint: string | undefined, readonly record: Partial<LockRecord> | undefined, readonly stale: boolean) {
    super(host, message, hint);
    this.name = 'LockError';
  }
}

/** The holder: takes the flock, checks for a stale record, writes its own, then lives as long as its SSH channel. */
export function holderScript(host: ResolvedHost, record: LockRecord, force: boolean): string {
  const p = layoutOf(host);
  const json = JSON.stringify(record);
  return [
    sh`rec=${p.lock}; force=${force ? 1 : 0}`,
    sh`exec 9>>${p.flock}`,
    'if ! flock -n 9; then echo "RTCOPS_LOCK busy"; cat "$rec" 2>/dev/null || true; exit 0; fi',
    'if [ -s "$rec" ] && [ "$force" != 1 ]; then echo "RTCOPS_LOCK stale"; cat "$rec"; exit 0; fi',
    sh`json=${json}`,
    'printf \'%s\\n\' "${json%\\}},\\"holderPid\\":$$}" > "$rec.tmp" && mv -f "$rec.tmp" "$rec"',
    // Writing to a closed channel kills this loop (SIGPIPE), which releases the flock: a killed deploy leaves only the record.
    'while sleep 1; do printf . || exit 0; done',
  ].join('\n');
}

function parseRecord(text: string): Partial<LockRecord> | undefined {
  try {
    return JSON.parse(text.trim()) as Partial<LockRecord>;
  } catch {
    return undefined;
  }
}

export function describeHolder(r: Partial<LockRecord> | undefined): string {
  if (r === undefined) return 'an unreadable lock record';
  return `${r.action ?? 'deploy'}${r.release !== undefined ? ` of ${r.release}` : ''} by ${r.by ?? '?'} at ${r.at ?? '?'}${r.phase !== undefined ? `, last phase: ${r.phase}` : ''}`;
}

export interface HeldLock {
  record: LockRecord;
  /** The stale record this lock replaced (--force-unlock). */
  broke: Partial<LockRecord> | undefined;
  /** Records the phase (and the intent given since the last phase) in the lock record, before the phase starts. */
  phase(name: string): Promise<void>;
  /** Sets the intent; written with the next phase. */
  intent(fields: Intent): void;
  release(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock with `holder` (a connection of its own, which holds it) and `main` (which reads and updates the
 * record). Throws LockError when another deploy holds it or a stale record is found without `force`.
 */
export async function acquireLock(main: Runner, holder: Runner, host: ResolvedHost, o: { by: string; action: string; release?: string; force: boolean }): Promise<HeldLock> {
  const p = layoutOf(host);
  const record: LockRecord = { token: randomBytes(8).toString('hex'), by: o.by, action: o.action, ...(o.release !== undefined ? { release: o.release } : {}), at: new Date().toISOString() };
  // What --force-unlock is about to break, for the audit log.
  const prior = parseRecord((await main.exec(['cat', p.lock], { root: true, allowFailure: true, summary: 'read the deploy lock' })).stdout);
  let ended: { out: string } | undefined;
  let failure: Error | undefined;
  const held = holder.script(holderScript(host, record, o.force), { root: true, summary: 'hold the deploy lock' })
    .then((r) => { ended = { out: r.stdout }; }, (e: Error) => { failure = e; });
  const deadline = Date.now() + 15_000;
  let current: Partial<LockRecord> | undefined;
  for (;;) {
    if (failure !== undefined) throw failure;
    if (ended !== undefined) {
      const [first, ...rest] = ended.out.split('\n');
      const other = parseRecord(rest.join('\n'));
      if (first?.includes('busy')) {
        throw new LockError(host.name, `another deploy holds the lock on ${host.name}: ${describeHolder(other)}`, 'wait for it to finish; a lock held by a running deploy is never broken', other, false);
      }
      if (first?.includes('stale')) {
        throw new LockError(host.name, `stale deploy lock on ${host.name}: ${describeHolder(other)}; that deploy is no longer running`,
          'check the host (scripts/releases.mjs), then re-run with --force-unlock: it breaks the lock and first repairs what the killed deploy left (see RUNBOOK)', other, true);
      }
      throw new RemoteError(host.name, `the deploy lock holder exited unexpectedly: ${ended.out.trim().slice(0, 300)}`);
    }
    const r = await main.exec(['cat', p.lock], { root: true, allowFailure: true, summary: 'read the deploy lock' });
    current = parseRecord(r.stdout);
    if (current?.token === record.token && current.holderPid !== undefined) break;
    if (Date.now() > deadline) throw new RemoteError(host.name, 'timed out taking the deploy lock');
    await sleep(100);
  }
  record.holderPid = current.holderPid;
  return {
    record,
    broke: o.force && prior !== undefined && prior.token !== record.token ? prior : undefined,
    phase: async (name: string) => {
      record.phase = name;
      const { token: _t, holderPid: _h, ...fields } = record;
      await main.script(sh`rec=${p.lock}\njq -c --arg t ${record.token} --argjson f ${JSON.stringify(fields)} 'if .token == $t then . + $f else . end' "$rec" > "$rec.tmp" && mv -f "$rec.tmp" "$rec"`, { root: true, allowFailure: true, summary: 'record the deploy phase' });
    },
    intent: (fields: Intent) => {
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) (record as unknown as Record<string, unknown>)[k] = v;
    },
    release: async () => {
      await main.script(sh`rec=${p.lock}\nif [ "$(jq -r .token "$rec" 2>/dev/null)" = ${record.token} ]; then rm -f "$rec"; fi\nkill ${record.holderPid ?? 0} 2>/dev/null || true`, { root: true, allowFailure: true, summary: 'release the deploy lock' });
      await held;
    },
  };
}

/** Whether a deploy holds the lock now (`held`), a killed one left its record (`stale`), or neither (`free`). */
export async function lockStatus(main: Runner, host: ResolvedHost): Promise<{ state: 'free' | 'held' | 'stale'; record?: Partial<LockRecord> }> {
  const p = layoutOf(host);
  const r = await main.script([
    sh`rec=${p.lock}`,
    'if [ ! -s "$rec" ]; then echo free; exit 0; fi',
    sh`if flock -n ${p.flock} true 2>/dev/null; then echo stale; else echo held; fi`,
    'cat "$rec"',
  ].join('\n'), { root: true, allowFailure: true, summary: 'read the deploy lock' });
  const [first, ...rest] = r.stdout.split('\n');
  const state = first?.trim() === 'held' ? 'held' : first?.trim() === 'stale' ? 'stale' : 'free';
  const record = state === 'free' ? undefined : parseRecord(rest.join('\n'));
  return { state, ...(record !== undefined ? { record } : {}) };
}
