import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFacts } from '../../../lib/provision/facts.js';
import { servicesStep, wantedServices } from '../../../lib/provision/steps/services.js';

const STACK = ['nginx', 'coturn', 'fail2ban', 'prometheus-node-exporter', 'unattended-upgrades', 'ssh'];

/** Facts for a host with these packages, on this virtualization, with these units active and enabled. */
function facts(virt: string, packages: string[], running: string[]) {
  const units = [...STACK, 'systemd-timesyncd', 'chrony'];
  const svc = units.map((u) => `@@rtcops@@ service ${u}\n${running.includes(u) ? 'active\nenabled' : 'inactive\ndisabled'}`).join('\n');
  return parseFacts(`@@rtcops@@ os\ndebian\n12\n${virt}\n@@rtcops@@ packages\n${packages.join('\n')}\n${svc}\n`, '10.0.0.1');
}

describe('services: the stack and the clock', () => {
  for (const [name, virt, packages, want] of [
    ['a VM with systemd-timesyncd keeps the clock with it', 'kvm', ['systemd-timesyncd'], [...STACK, 'systemd-timesyncd']],
    ['a VM with chrony keeps chrony', 'none', ['chrony'], [...STACK, 'chrony']],
    ['a container: the clock is the machine\'s, no time daemon', 'systemd-nspawn', ['systemd-timesyncd'], STACK],
    ['nothing installed yet (--check before packages): the stack only', 'kvm', [], STACK],
  ] as const) test(name, () => assert.deepEqual(wantedServices(facts(virt, [...packages], [])), want));

  test('only what is down is started', () => {
    const ctx = { host: { nodeExporter: { enabled: true } } } as never;
    assert.deepEqual(servicesStep.plan(ctx, facts('kvm', ['systemd-timesyncd'], STACK)).map((a) => a.summary), ['enable and start systemd-timesyncd']);
    assert.deepEqual(servicesStep.plan(ctx, facts('kvm', ['systemd-timesyncd'], [...STACK, 'systemd-timesyncd'])), []);
  });

  test('nodeExporter.enabled false: node_exporter is stopped and disabled, never started', () => {
    const ctx = { host: { nodeExporter: { enabled: false } } } as never;
    const others = STACK.filter((s) => s !== 'prometheus-node-exporter');
    assert.deepEqual(servicesStep.plan(ctx, facts('kvm', [], STACK)).map((a) => [a.summary, a.kind === 'run' ? a.script : '']), [
      ['stop and disable prometheus-node-exporter (nodeExporter.enabled is false)', 'systemctl disable --now prometheus-node-exporter'],
    ]);
    assert.deepEqual(servicesStep.plan(ctx, facts('kvm', [], others)), [], 'already off: nothing to do');
    assert.deepEqual(servicesStep.plan(ctx, facts('kvm', [], [])).map((a) => a.summary), [`enable and start ${others.join(' ')}`]);
  });
});
