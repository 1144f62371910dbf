import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planFirewall, ufwCommands } from '../../../lib/inventory/index.js';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

const lines = (host: Parameters<typeof planFirewall>[0]) => ufwCommands(planFirewall(host)).map((argv) => argv.join(' '));

describe('UFW plan from the inventory', () => {
  test('sandbox: default deny in, SSH allowed from admin networks only (no rate limit), public web/TURN/media ports', () => {
    assert.deepEqual(lines(exampleHost('sandbox')), [
      'ufw default deny incoming',
      'ufw default allow outgoing',
      'ufw default deny routed',
      'ufw allow proto tcp from 10.77.0.1/32 to any port 22 comment ssh from admin network',
      'ufw allow proto tcp from any to any port 80 comment http: acme challenges and redirect',
      'ufw allow proto tcp from any to any port 443 comment https: signaling',
      'ufw allow proto udp from any to any port 3478 comment turn',
      'ufw allow proto tcp from any to any port 3478 comment turn over tcp',
      'ufw allow proto tcp from any to any port 5349 comment turn over tls',
      'ufw allow proto udp from any to any port 50000:50999 comment turn relay',
      'ufw allow proto udp from any to any port 40000:40999 comment mediasoup rtc',
      'ufw allow proto tcp from any to any port 40000:40999 comment mediasoup rtc over tcp',
      'ufw allow proto tcp from 10.77.0.1/32 to any port 9100 comment node_exporter from admin network',
    ]);
  });

  test('WebRtcServer mode opens one port per worker and deploy slot instead of the RTC range', () => {
    const media = lines(exampleHost('prod')).filter((l) => l.includes('mediasoup'));
    assert.deepEqual(media, ['ufw allow proto udp from any to any port 44444:44451 comment mediasoup rtc', 'ufw allow proto tcp from any to any port 44444:44451 comment mediasoup rtc over tcp']);
  });

  test('node_exporter disabled: no 9100 rule', () => {
    const host = exampleHost('sandbox');
    host.nodeExporter.enabled = false;
    assert.ok(!lines(host).some((l) => l.includes('9100')));
  });

  test('extra rules come last, from the inventory', () => {
    const host = exampleHost('sandbox');
    host.firewall.extraRules = [{ port: 8443, proto: 'tcp', from: '192.0.2.0/24', comment: 'partner api' }];
    assert.equal(lines(host).at(-1), 'ufw allow proto tcp from 192.0.2.0/24 to any port 8443 comment partner api');
  });

  test('SSH is rate-limited by default (sshRateLimit), on a custom SSH port too', () => {
    const host = exampleHost('sandbox');
    host.firewall.sshRateLimit = true;
    host.ssh.port = 2200;
    assert.ok(lines(host).includes('ufw limit proto tcp from 10.77.0.1/32 to any port 2200 comment ssh from admin network'));
  });
});
