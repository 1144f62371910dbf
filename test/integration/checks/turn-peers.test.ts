// The turn-peers check against the real coturn running the rendered turnserver.conf, in a namespace with the host's
// own address alone (coturn, the relay guard and the check all there): the production posture passes; a permissive
// allowed-peer-ip, or no relay guard, is critical and named.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import type { Outcome } from '../../../lib/checks/result.js';
import { REFUSED_PEERS } from '../../../lib/checks/turn-peers.js';
import { exampleHost, fakeSecrets, REPO } from '../../fixtures/inventories/hosts.js';
import { namespaceWithAddress, rendered, startRenderedCoturnInNs, tempDir, tool, writeFile } from '../templates/tools.js';

const ADDRESS = '192.0.2.9';
const NS = `rtcops-turn-peers-${process.pid}`;
const host = exampleHost('sandbox');
host.mediasoup.announcedIp = ADDRESS;

async function check(port: number): Promise<Outcome> {
  const options = { host: ADDRESS, port, secret: fakeSecrets(host).turnSecret.reveal(), ownIp: ADDRESS, requestTimeoutMs: 1500 };
  const r = await execa('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', join(REPO, 'test/helpers/turn-peers-in-ns.ts'), JSON.stringify(options)], { cwd: REPO, reject: false, all: true, timeout: 60_000 });
  assert.equal(r.exitCode, 0, String(r.all));
  const [result] = JSON.parse(r.stdout) as Outcome[];
  return result!;
}

async function loadGuard(t: Parameters<typeof tempDir>[0]): Promise<void> {
  const file = writeFile(join(tempDir(t, 'turn-peers-guard'), 'guard.nft'), rendered(host, 'turn-relay-guard').content);
  const load = await execa('ip', ['netns', 'exec', NS, 'nft', '-f', file], { reject: false, all: true });
  assert.equal(load.exitCode, 0, String(load.all));
}

describe('turn-peers: the real coturn with the rendered turnserver.conf, in a namespace', () => {
  it('the production posture (denied-peer-ip ranges, the relay guard): every peer refused, the own-host relay unanswered → ok', async (t) => {
    tool('nft', 'nftables');
    await namespaceWithAddress(t, NS, ADDRESS);
    await loadGuard(t);
    const r = await check(await startRenderedCoturnInNs(t, NS, ADDRESS, host));
    assert.equal(r.status, 'ok', r.message);
    assert.match(r.message, new RegExp(`^over UDP ${ADDRESS}:3478: ${REFUSED_PEERS.length} private, loopback, link-local and IPv4-mapped peers refused; a relay to ${ADDRESS}:3478/udp got no answer$`));
  });

  it('a permissive allowed-peer-ip (a private and the metadata address) → critical, naming them', async (t) => {
    await namespaceWithAddress(t, NS, ADDRESS);
    await loadGuard(t);
    const r = await check(await startRenderedCoturnInNs(t, NS, ADDRESS, host, { allowedPeerIps: [ADDRESS, '10.0.0.1', '169.254.169.254'] }));
    assert.equal(r.status, 'critical', r.message);
    assert.match(r.message, /coturn grants relays to 10\.0\.0\.1 \(private 10\/8\), 169\.254\.169\.254 \(link-local, cloud metadata\)[^;]*: denied-peer-ip/);
    assert.doesNotMatch(r.message, /127\.0\.0\.1|relay guard/);
  });

  it('no relay guard: coturn itself answers a STUN request relayed to the host\'s own address → critical, naming it', async (t) => {
    await namespaceWithAddress(t, NS, ADDRESS);
    const r = await check(await startRenderedCoturnInNs(t, NS, ADDRESS, host));
    assert.equal(r.status, 'critical', r.message);
    assert.match(r.message, new RegExp(`a relay to the host's own address reaches ${ADDRESS}:3478/udp \\(coturn itself, not a media port\\) and it answered: the relay guard is not loaded`));
    assert.doesNotMatch(r.message, /grants relays/);
  });
});
