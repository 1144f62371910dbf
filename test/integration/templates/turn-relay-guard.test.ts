import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { mediaPorts } from '../../../lib/inventory/index.js';
import { layoutOf } from '../../../lib/host/index.js';
import { exampleHost, fakeSecrets, REPO } from '../../fixtures/inventories/hosts.js';
import { namespaceWithAddress, rendered, startRenderedCoturnInNs, tempDir, tool, writeFile } from './tools.js';

// The host's own address, on the loopback device of a namespace the test makes: coturn, the rule set, the listeners
// and the TURN client all live there, nothing touches the machine's own network.
const ADDRESS = '192.0.2.7';
const NS = `rtcops-relay-guard-${process.pid}`;
const host = exampleHost('sandbox');
const media = mediaPorts(host);
const echoPort = host.daemon.turnEchoPort;
const { relayGuardTable } = layoutOf(host);

const inNs = (argv: string[]) => execa('ip', ['netns', 'exec', NS, ...argv], { reject: false, all: true });

/** Which of `ports` on the host's address a datagram sent through a TURN UDP relay reached. */
async function relayReaches(turnPort: number, ports: number[]): Promise<number[]> {
  const args = JSON.stringify({ address: ADDRESS, turnPort, secret: fakeSecrets(host).turnSecret.reveal(), ports });
  const r = await execa('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', join(REPO, 'test/helpers/turn-relay-probe.ts'), args], { cwd: REPO, reject: false, all: true, timeout: 30_000 });
  assert.equal(r.exitCode, 0, String(r.all));
  return JSON.parse(r.stdout) as number[];
}

describe('TURN relay guard: a UDP relay to the host\'s own address reaches only the media ports', () => {
  it('the rule set: coturn\'s user, its relay ports, the host\'s own addresses, every port but the media ports of both slots and the daemon\'s echo port on the announced IP', () => {
    const nft = rendered(host, 'turn-relay-guard').content;
    assert.match(nft, new RegExp(`meta skuid "turnserver" udp sport ${host.turn.relayPorts.min}-${host.turn.relayPorts.max} ip daddr ${host.mediasoup.announcedIp.replaceAll('.', '\\.')} udp dport ${echoPort} accept\n`));
    assert.match(nft, new RegExp(`meta skuid "turnserver" udp sport ${host.turn.relayPorts.min}-${host.turn.relayPorts.max} fib daddr type local udp dport != ${media.min}-${media.max} meta mark set 0x52544f50\n`));
    assert.match(nft, /chain input \{\n.*type filter hook input priority filter; policy accept;\n\s+meta mark 0x52544f50 counter drop\n/);
    assert.match(nft, new RegExp(`^table inet ${relayGuardTable}\\ndelete table inet ${relayGuardTable}\\ntable inet ${relayGuardTable} \\{`, 'm'), 'replaced in one transaction');
    const unit = rendered(host, 'turn-relay-guard-unit').content;
    assert.match(unit, /^Before=network-pre\.target coturn\.service$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
  });

  it('systemd-analyze verify accepts the unit', async (t) => {
    const dir = tempDir(t, 'relay-guard-unit');
    const unit = writeFile(join(dir, layoutOf(host).relayGuardUnit), rendered(host, 'turn-relay-guard-unit').content);
    const r = await execa(tool('systemd-analyze', 'systemd'), ['verify', unit], { reject: false, all: true });
    assert.doesNotMatch(String(r.all), new RegExp(`${layoutOf(host).relayGuardUnit}:\\d+`), String(r.all));
  });

  it('the real coturn and nft in a namespace: without the guard a relay reaches any UDP port of the host; with it only the media ports and the daemon\'s echo port', async (t) => {
    tool('nft', 'nftables');
    await namespaceWithAddress(t, NS, ADDRESS);
    const announced = structuredClone(host);
    announced.mediasoup.announcedIp = ADDRESS;
    const file = writeFile(join(tempDir(t, 'relay-guard'), 'guard.nft'), rendered(announced, 'turn-relay-guard').content);
    const check = await inNs(['nft', '-c', '-f', file]);
    assert.equal(check.exitCode, 0, String(check.all));
    const turnPort = await startRenderedCoturnInNs(t, NS, ADDRESS, host);
    // The app's port, an admin-only one, the daemon's echo port and the edges of the media ports.
    const ports = [3000, 9464, echoPort, media.min, media.max];
    assert.deepEqual(await relayReaches(turnPort, ports), ports.toSorted((a, b) => a - b), 'without the guard: everything (the test can see the hole)');
    for (let i = 0; i < 2; i++) {
      const load = await inNs(['nft', '-f', file]);
      assert.equal(load.exitCode, 0, `load ${i + 1}: ${String(load.all)}`);
    }
    const tables = await inNs(['nft', 'list', 'tables']);
    assert.equal(tables.stdout.trim(), `table inet ${relayGuardTable}`, 'loading twice leaves one table');
    assert.deepEqual(await relayReaches(turnPort, ports), [echoPort, media.min, media.max], 'with the guard: the echo port and the media ports only');
    const counted = await inNs(['nft', 'list', 'table', 'inet', relayGuardTable]);
    assert.match(counted.stdout, /counter packets [1-9]\d* /, 'the rule dropped them');
    assert.ok(readFileSync(file, 'utf8').includes(`udp dport != ${media.min}-${media.max}`));
  });
});
