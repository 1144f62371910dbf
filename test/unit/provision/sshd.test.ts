import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conflictingDropins, effectiveDrift, settingsOf } from '../../../lib/provision/steps/sshd.js';

const ours = '/etc/ssh/sshd_config.d/10-rtcops-hardening.conf';
const intended = settingsOf('# rtcops\nPasswordAuthentication no\nPermitRootLogin no\nAllowUsers deploy ops\n');

describe('sshd hardening against what sshd really uses', () => {
  test('settingsOf: keywords in lower case, comments skipped, nothing from a Match block', () => {
    assert.deepEqual([...settingsOf('# c\nPasswordAuthentication no\n\nMatch User x\n  PasswordAuthentication yes\n')], [['passwordauthentication', 'no']]);
  });

  for (const [name, dropins, want] of [
    ['no other drop-in', {}, []],
    ['read first, overriding two keywords', { '/etc/ssh/sshd_config.d/05-x.conf': 'PasswordAuthentication yes\nPermitRootLogin yes\n' }, [{ path: '/etc/ssh/sshd_config.d/05-x.conf', overrides: ['passwordauthentication yes', 'permitrootlogin yes'] }]],
    ['read first, agreeing (case and spacing aside)', { '/etc/ssh/sshd_config.d/05-x.conf': 'passwordauthentication   NO\n' }, []],
    ['read after ours: its global values never apply', { '/etc/ssh/sshd_config.d/50-cloud-init.conf': 'PasswordAuthentication yes\n' }, []],
    ['read after ours, but a Match block overrides', { '/etc/ssh/sshd_config.d/60-m.conf': 'Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n' }, [{ path: '/etc/ssh/sshd_config.d/60-m.conf', overrides: ['passwordauthentication yes'] }]],
    ['read first, keywords rtcops does not set', { '/etc/ssh/sshd_config.d/01-banner.conf': 'Banner /etc/issue.net\n' }, []],
  ] as const) test(`conflicting drop-ins: ${name}`, () => assert.deepEqual(conflictingDropins(new Map([[ours, 'x'], ...Object.entries(dropins)]), ours, intended), want));

  test('effective drift: per user, with what sshd uses and what rtcops wants; several AllowUsers lines join', () => {
    const effective = new Map([
      ['deploy', 'passwordauthentication no\npermitrootlogin no\nallowusers deploy\nallowusers ops\n'],
      ['root', 'passwordauthentication yes\npermitrootlogin no\nallowusers deploy ops\n'],
    ]);
    assert.deepEqual(effectiveDrift(effective, intended), ['root: passwordauthentication yes (rtcops: no)']);
  });
  test('effective drift: no output from sshd -T (not installed yet) is not drift', () => assert.deepEqual(effectiveDrift(new Map([['root', '']]), intended), []));
});
