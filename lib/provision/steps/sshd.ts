import { basename } from 'node:path';
import { RemoteError } from '../../runner/errors.js';
import { raw, sh, shQuote } from '../../runner/quote.js';
import type { Action } from '../actions.js';
import { HANDLERS } from '../apply.js';
import type { Facts } from '../facts.js';
import { fileAction } from '../managed-files.js';
import type { Step, StepContext } from '../step.js';

const DROPIN_DIR = '/etc/ssh/sshd_config.d';
const SET_ASIDE = '/var/backups/rtcops/sshd_config.d';
const MARK = '@@rtcops-sshd';

/**
 * The sshd hardening drop-in, applied behind the lockout guard (revert armed, new connection proven), and checked
 * where it counts: sshd's EFFECTIVE configuration (`sshd -T` for the SSH user and root, from this run's address).
 * sshd keeps the first value it reads, and a Match block overrides it for the connections it matches, so another
 * drop-in that sorts first, or a Match block anywhere, can undo the hardening while the file itself is intact.
 */
export const sshdStep: Step = {
  name: 'sshd',
  title: 'SSH hardening',
  facts: (ctx) => ({
    files: ctx.rendered.files.filter((f) => f.installedBy === 'sshd').map((f) => f.path),
    probes: {
      'sshd.dropins': `for f in ${DROPIN_DIR}/*.conf; do [ -f "$f" ] && { echo "${MARK} $f"; cat "$f"; }; done`,
      'sshd.effective': effectiveUsers(ctx).map((u) => `echo "${MARK} ${u}"; sshd -T -C ${shQuote(`user=${u},host=rtcops-check,addr=${ctx.clientIp ?? '127.0.0.1'}`)}`).join('; '),
      'sshd.groups': sh`id -nG ${ctx.host.ssh.user}`,
    },
  }),
  plan: (ctx, facts) => {
    const file = ctx.rendered.files.find((f) => f.installedBy === 'sshd');
    if (file === undefined) return [];
    checkAllowGroups(ctx, facts);
    const intended = settingsOf(file.content);
    const install = fileAction(file, facts);
    const conflicts = conflictingDropins(sections(facts.probes.get('sshd.dropins') ?? ''), file.path, intended);
    const actions: Action[] = [...(install === undefined ? [] : [{ ...install, guard: 'ssh-access' } satisfies Action]), ...conflicts.map(setAside)];
    if (install === undefined && conflicts.length === 0) {
      const wrong = effectiveDrift(sections(facts.probes.get('sshd.effective') ?? ''), intended);
      if (wrong.length > 0) {
        throw new RemoteError(ctx.host.name, `sshd's effective configuration undoes rtcops's hardening: ${wrong.join('; ')}`,
          `a setting outside ${DROPIN_DIR} wins (e.g. above the Include line of /etc/ssh/sshd_config, or a Match block there): remove it, then run again; sshd -T -C user=${ctx.host.ssh.user},host=x,addr=<your address> shows what sshd uses`);
      }
    }
    return actions;
  },
};

const effectiveUsers = (ctx: StepContext) => [...new Set([ctx.host.ssh.user, 'root'])];

/** `Keyword value` lines before any Match block, keywords in lower case (as `sshd -T` prints them), values as written. */
export function settingsOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key = '', ...rest] = line.split(/\s+/);
    if (key.toLowerCase() === 'match') break;
    out.set(key.toLowerCase(), rest.join(' '));
  }
  return out;
}

/** `MARK name` sections of a probe's output: name → body. */
function sections(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of output.split(`${MARK} `).slice(1)) {
    const nl = part.indexOf('\n');
    out.set((nl < 0 ? part : part.slice(0, nl)).trim(), nl < 0 ? '' : part.slice(nl + 1));
  }
  return out;
}

const same = (a: string, b: string) => a.trim().toLowerCase().replace(/\s+/g, ' ') === b.trim().toLowerCase().replace(/\s+/g, ' ');

/**
 * Other drop-ins that override a hardened keyword: set globally in a file read before ours (the first value wins),
 * or inside a Match block of any file (it overrides for the connections it matches).
 */
export function conflictingDropins(dropins: Map<string, string>, ours: string, intended: Map<string, string>): { path: string; overrides: string[] }[] {
  const out: { path: string; overrides: string[] }[] = [];
  for (const [path, text] of dropins) {
    if (path === ours) continue;
    const readFirst = basename(path) < basename(ours);
    let inMatch = false;
    const overrides = new Set<string>();
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const [word = '', ...rest] = line.split(/\s+/);
      const key = word.toLowerCase();
      if (key === 'match') { inMatch = true; continue; }
      const want = intended.get(key);
      if (want !== undefined && (inMatch || readFirst) && !same(rest.join(' '), want)) overrides.add(`${key} ${rest.join(' ')}`);
    }
    if (overrides.size > 0) out.push({ path, overrides: [...overrides] });
  }
  return out;
}

/** What `sshd -T` says for each checked user that differs from the hardening, as `user: keyword value (rtcops: want)`. */
export function effectiveDrift(effective: Map<string, string>, intended: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [user, text] of effective) {
    const values = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const [key = '', ...rest] = line.trim().split(/\s+/);
      if (key !== '') values.set(key, [...(values.get(key) ?? []), rest.join(' ')]);
    }
    if (values.size === 0) continue;
    for (const [key, want] of intended) {
      const got = (values.get(key) ?? []).join(' ');
      if (!same(got, want)) out.push(`${user}: ${key} ${got || '(unset)'} (rtcops: ${want})`);
    }
  }
  return out;
}

/** A drop-in that undoes the hardening is moved aside (kept, named in the report), behind the lockout guard. */
function setAside(conflict: { path: string; overrides: string[] }): Action {
  const kept = `${SET_ASIDE}/${basename(conflict.path)}.${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`;
  return {
    kind: 'run',
    summary: `set aside ${conflict.path} (it overrides the hardening: ${conflict.overrides.join(', ')}); kept as ${kept}`,
    guard: 'ssh-access',
    revertUnit: 'sshd',
    prepare: 'true',
    revert: sh`[ -e ${kept} ] && mv -f ${kept} ${conflict.path}; ${raw(HANDLERS['reload ssh'] ?? 'true')}`,
    script: sh`mkdir -p ${SET_ASIDE} && mv -f ${conflict.path} ${kept}\nsshd -t\n${raw(HANDLERS['reload ssh'] ?? 'true')}`,
  };
}

/** AllowGroups that the SSH user is in none of would lock the next connection out: refuse it before anything changes. */
function checkAllowGroups(ctx: StepContext, facts: Facts): void {
  const allow = ctx.host.sshd.allowGroups;
  const groups = (facts.probes.get('sshd.groups') ?? '').split(/\s+/).filter((g) => g !== '');
  if (allow.length === 0 || groups.length === 0 || groups.some((g) => allow.includes(g))) return;
  throw new RemoteError(ctx.host.name, `sshd.allowGroups (${allow.join(', ')}) does not include a group of the SSH user ${ctx.host.ssh.user} (${groups.join(', ')}): the next SSH connection would be refused`,
    `add one of ${groups.join(', ')} to hosts.${ctx.host.name}.sshd.allowGroups, or add ${ctx.host.ssh.user} to one of ${allow.join(', ')} on the host`);
}
