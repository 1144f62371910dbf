import { shJoin } from '../../runner/quote.js';
import type { Step } from '../step.js';
import { sha256 } from '../managed-files.js';

/** ufw's own rule files: hashing them after an apply lets a later run notice hand edits. */
const UFW_FILES = ['/etc/ufw/user.rules', '/etc/ufw/user6.rules', '/etc/default/ufw', '/etc/ufw/ufw.conf'];
export const UFW_STATE = '/var/lib/rtcops/ufw.state';
const PREV = '/var/lib/rtcops/ufw-prev';
const FINGERPRINT = `sha256sum ${UFW_FILES.join(' ')} 2>/dev/null | cut -d' ' -f1 | tr '\\n' ' '`;

/** UFW with exactly the planned rules, applied behind the lockout guard. */
export const firewallStep: Step = {
  name: 'firewall',
  title: 'firewall (ufw)',
  facts: () => ({
    probes: {
      'ufw.active': 'ufw status | head -1',
      'ufw.fingerprint': FINGERPRINT,
      'ufw.state': `cat ${UFW_STATE}`,
    },
  }),
  plan: ({ rendered }, facts) => {
    const planHash = sha256(JSON.stringify(rendered.ufw));
    const [recordedPlan, recordedFiles] = (facts.probes.get('ufw.state') ?? '').split('\n');
    const active = facts.probes.get('ufw.active') === 'Status: active';
    const unchanged = active && recordedPlan === planHash && recordedFiles?.trim() === facts.probes.get('ufw.fingerprint')?.trim();
    if (unchanged) return [];
    const why = !active ? 'enable' : recordedPlan !== planHash ? 'apply the new rule plan to' : 'restore hand-edited';
    return [{
      kind: 'run',
      summary: `${why} ufw (${rendered.ufw.length} commands)`,
      guard: 'ssh-access',
      prepare: [`rm -rf ${PREV} && mkdir -p ${PREV}`, ...UFW_FILES.map((f) => `[ -e ${f} ] && cp -a ${f} ${PREV}/ || true`), `ufw status | head -1 > ${PREV}/status`].join('\n'),
      revert: [
        ...UFW_FILES.map((f) => `[ -e ${PREV}/${f.split('/').pop()} ] && cp -a ${PREV}/${f.split('/').pop()} ${f} || true`),
        `if grep -q 'Status: active' ${PREV}/status; then ufw --force enable; ufw reload; else ufw --force disable; fi`,
        `rm -f ${UFW_STATE}`,
      ].join('\n'),
      script: [
        'ufw --force reset >/dev/null',
        ...rendered.ufw.map((argv) => `${shJoin(argv)} >/dev/null`),
        'ufw --force enable >/dev/null',
        `mkdir -p ${UFW_STATE.replace(/\/[^/]+$/, '')}`,
        `{ echo ${planHash}; ${FINGERPRINT}; echo; } > ${UFW_STATE}`,
      ].join('\n'),
    }];
  },
};
