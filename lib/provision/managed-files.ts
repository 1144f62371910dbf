import { createHash } from 'node:crypto';
import type { RenderedFile } from '../render/files.js';
import type { Action, FileAction } from './actions.js';
import type { Facts } from './facts.js';

/** How each rendered file is checked on the host after it is put in place, and what must reload. */
export const FILE_POLICY: Record<string, { validate?: string; notify?: string[] }> = {
  'nginx-site': { validate: 'nginx -t -q', notify: ['reload nginx'] },
  'nginx-site-first-boot': { validate: 'nginx -t -q', notify: ['reload nginx'] },
  turnserver: { notify: ['restart coturn'] },
  'fail2ban-jail': { validate: 'fail2ban-client -t', notify: ['restart fail2ban'] },
  // A filter compiles on its own; jail.local (installed after it) then checks the whole set with fail2ban-client -t.
  'fail2ban-filter-signaling-auth': { validate: 'out=$(fail2ban-regex /dev/null "$RTCOPS_FILE" 2>&1) && ! printf "%s" "$out" | grep "^ERROR"', notify: ['restart fail2ban'] },
  'sshd-hardening': { validate: 'sshd -t', notify: ['reload ssh'] },
  // node may not be on the host yet during the first run: the deploy validates again.
  'pm2-ecosystem': { validate: 'if command -v node >/dev/null; then node -e "require(process.argv[1])" "$RTCOPS_FILE"; fi' },
  'certbot-deploy-hook': { validate: 'sh -n "$RTCOPS_FILE"' },
  'unattended-upgrades': { validate: 'apt-config dump >/dev/null' },
  'auto-upgrades': { validate: 'apt-config dump >/dev/null' },
  // needrestart evaluates its conf.d as Perl; perl-base is on every Debian and Ubuntu host.
  needrestart: { validate: 'perl -c "$RTCOPS_FILE" 2>/dev/null' },
  'health-daemon-unit': { notify: ['systemd daemon-reload', 'restart health daemon'] },
  'health-daemon-env': { notify: ['restart health daemon'] },
  'health-daemon-alerts-ca': { validate: 'openssl x509 -noout -in "$RTCOPS_FILE"', notify: ['restart health daemon'] },
  'health-daemon-config': { notify: ['restart health daemon'], validate: 'python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$RTCOPS_FILE"' },
};

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A file action when the host's copy differs in content, mode or ownership; none when it matches. */
export function fileAction(file: RenderedFile, facts: Facts): FileAction | undefined {
  const f = facts.files.get(file.path);
  const mode = file.mode.padStart(4, '0');
  if (f?.exists === true && f.sha256 === sha256(file.content) && f.mode === mode && f.owner === file.owner && f.group === file.group) return undefined;
  const what = f?.exists !== true ? 'create' : f.sha256 !== sha256(file.content) ? 'update' : 'fix mode/owner of';
  const policy = FILE_POLICY[file.id] ?? {};
  return {
    kind: 'file', summary: `${what} ${file.path}`, path: file.path, content: file.content, mode, owner: file.owner, group: file.group, secret: file.secret,
    ...(policy.validate !== undefined ? { validate: policy.validate } : {}),
    ...(policy.notify !== undefined ? { notify: policy.notify } : {}),
  };
}

export function fileActions(files: RenderedFile[], facts: Facts): Action[] {
  return files.flatMap((f) => fileAction(f, facts) ?? []);
}
