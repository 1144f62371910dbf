import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSshdBackend, osFamily, VERIFIED_OSES, type HostOs } from '../../../lib/inventory/os.js';
import { OS_VALUES } from '../../../lib/inventory/schema.js';
import { SANDBOX_OSES } from '../../../lib/sandbox/index.js';

describe('choices made from the inventory\'s os', () => {
  const cases: [os: HostOs, family: string, sshdBackend: string][] = [
    ['debian-12', 'debian', 'systemd'],
    ['debian-13', 'debian', 'systemd'],
    ['ubuntu-22.04', 'ubuntu', 'auth.log'],
    ['ubuntu-24.04', 'ubuntu', 'auth.log'],
  ];
  for (const [os, family, backend] of cases) {
    it(`${os}: ${family}, fail2ban's sshd jail on ${backend}`, () => {
      assert.deepEqual([osFamily(os), defaultSshdBackend(os)], [family, backend]);
    });
  }

  it('has a row for every os the inventory accepts', () => {
    assert.deepEqual(cases.map(([os]) => os), [...OS_VALUES]);
  });

  it('calls verified exactly the releases the sandbox boots', () => {
    assert.deepEqual([...VERIFIED_OSES], [...SANDBOX_OSES]);
  });
});
