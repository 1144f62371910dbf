import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendOperatorAlert } from '../../../lib/alerting/operator-alert.js';
import { DeliveryError, type AlertProvider } from '../../../lib/alerting/providers/provider.js';
import { trustingClient } from '../../../lib/alerting/providers/http-post.js';
import { SlackProvider } from '../../../lib/alerting/providers/slack.js';
import { WebhookProvider } from '../../../lib/alerting/providers/webhook.js';
import type { AlertEvent } from '../../../lib/alerting/state-machine.js';
import { Secret } from '../../../lib/inventory/secrets.js';
import { exampleHost, fakeSecrets } from '../../fixtures/inventories/hosts.js';
import { TestCa, days } from '../../helpers/certs.js';
import { AlertReceiver } from '../../helpers/receiver.js';

const event: AlertEvent = {
  kind: 'triggered', host: 'rtc-prod-1', check: 'disk', target: '/var', severity: 'critical',
  message: '/var is 93% full (critical at 90%)', values: { usedPercent: 93, freeBytes: 1_048_576 },
  since: '2026-11-22T10:00:00.000Z', at: '2026-11-22T10:03:00.000Z', runbook: 'https://git.example.com/rtcops/RUNBOOK.md#disk',
};

const providers: [string, (url: string) => AlertProvider][] = [
  ['slack', (url) => new SlackProvider(url, 2000)],
  ['webhook', (url) => new WebhookProvider(url, 'test-bearer-token', 2000)],
];

// One suite every provider passes: delivery, refusal, unreachable destination, no secret in errors.
for (const [name, make] of providers) {
  describe(`alert provider: ${name}`, () => {
    let rx: AlertReceiver;
    before(async () => { rx = await AlertReceiver.start(); });
    after(() => rx.down());

    it('delivers one POST with a JSON body naming host, check and severity', async () => {
      rx.received.length = 0;
      await make(rx.url).send(event);
      assert.equal(rx.received.length, 1);
      const text = JSON.stringify(rx.received[0]?.body);
      for (const s of ['rtc-prod-1', 'disk', '/var is 93% full']) assert.ok(text.includes(s), `${s} in ${text}`);
      assert.ok(/critical/i.test(text));
    });

    it('a non-2xx answer is a DeliveryError with the status, without the URL', async () => {
      rx.status = 500;
      try {
        await assert.rejects(make(rx.url).send(event), (e: Error) => e instanceof DeliveryError && e.message.includes('HTTP 500') && !e.message.includes('test-webhook-secret'));
      } finally {
        rx.status = 200;
      }
    });

    it('an unreachable destination is a DeliveryError without the URL', async () => {
      const url = rx.url;
      await rx.down();
      try {
        await assert.rejects(make(url).send(event), (e: Error) => e instanceof DeliveryError && /could not deliver \((ECONNREFUSED|UND_ERR_SOCKET)\)/.test(e.message) && !e.message.includes('test-webhook-secret'));
      } finally {
        await rx.up();
      }
    });
  });
}

describe('the Slack message reads well', () => {
  let rx: AlertReceiver;
  before(async () => { rx = await AlertReceiver.start(); });
  after(() => rx.down());

  it('says severity, check, host and target in its first line, then what, the measured values, since when and the runbook', async () => {
    await new SlackProvider(rx.url).send(event);
    const body = rx.received[0]?.body as { text: string; attachments: { color: string; text: string }[] };
    assert.match(body.text, /CRITICAL disk on rtc-prod-1 \(\/var\)/);
    const details = body.attachments[0]?.text ?? '';
    assert.match(details, /What is wrong:\* \/var is 93% full \(critical at 90%\)/);
    assert.match(details, /usedPercent=93, freeBytes=1048576/);
    assert.match(details, /Since:\* 2026-11-22T10:00:00.000Z/);
    assert.match(details, /<https:\/\/git.example.com\/rtcops\/RUNBOOK.md#disk\|RUNBOOK.md#disk>/);
  });

  it('a resolved alert is green and says RESOLVED', async () => {
    rx.received.length = 0;
    await new SlackProvider(rx.url).send({ ...event, kind: 'resolved', severity: 'ok', message: '/var is 41% full' });
    const body = rx.received[0]?.body as { text: string; attachments: { color: string }[] };
    assert.match(body.text, /RESOLVED disk on rtc-prod-1/);
    assert.equal(body.attachments[0]?.color, '#2eb67d');
  });

  it('the generic webhook sends the event itself and the bearer token', async () => {
    rx.received.length = 0;
    await new WebhookProvider(rx.url, 'test-bearer-token').send(event);
    assert.equal(rx.received[0]?.headers.authorization, 'Bearer test-bearer-token');
    assert.deepEqual(rx.received[0]?.body, { source: 'rtcops-health', ...event });
  });
});

describe("an operator command's alert (a failed deploy) goes where the host's alerts go", () => {
  let rx: AlertReceiver;
  before(async () => { rx = await AlertReceiver.start(); });
  after(() => rx.down());
  const prod = (slack: boolean) => {
    const host = exampleHost('prod');
    host.alerts = { slack, runbookUrl: 'https://git.example.com/rtcops/RUNBOOK.md' };
    return { host, secrets: { ...fakeSecrets(host), slackWebhookUrl: new Secret(rx.url) } };
  };

  it('alerts.slack on: one critical Slack message linking <alerts.runbookUrl>#<check>', async () => {
    rx.received.length = 0;
    const { host, secrets } = prod(true);
    await sendOperatorAlert(host, secrets, { check: 'deploy', target: '20261122-100000-abc1234', message: 'deploy failed: the gate timed out' });
    assert.equal(rx.received.length, 1);
    const body = rx.received[0]?.body as { text: string; attachments: { text: string }[] };
    assert.match(body.text, /CRITICAL deploy on prod \(20261122-100000-abc1234\)/);
    assert.match(body.attachments[0]?.text ?? '', /What is wrong:\* deploy failed: the gate timed out/);
    assert.match(body.attachments[0]?.text ?? '', /<https:\/\/git.example.com\/rtcops\/RUNBOOK.md#deploy\|RUNBOOK.md#deploy>/);
  });

  it('alerts.slack off: nothing is sent, even with a webhook URL among the secrets', async () => {
    rx.received.length = 0;
    const { host, secrets } = prod(false);
    await sendOperatorAlert(host, secrets, { check: 'deploy', target: 'r', message: 'deploy failed' });
    assert.equal(rx.received.length, 0);
  });
});

describe('a webhook behind a private CA (alerts.caFile / alerting.caFile)', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let caFile: string;
  const got: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rtcops-alert-ca-'));
    const ca = TestCa.create(join(dir, 'ca'), '/CN=rtcops internal CA');
    caFile = ca.certFile;
    const cert = ca.issue('relay', ['127.0.0.1'], days(-1), days(10));
    server = createHttpsServer({ cert: readFileSync(cert.fullchainFile), key: readFileSync(cert.keyFile) }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { got.push(body); res.writeHead(200).end('ok'); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('without the CA the send is refused (the chain is not trusted); with it, delivered', async () => {
    const url = `https://127.0.0.1:${port}/hooks/secret-path`;
    await assert.rejects(new WebhookProvider(url, undefined, 2000).send(event), (e: Error) => e instanceof DeliveryError && /could not deliver \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/.test(e.message) && !e.message.includes('secret-path'));
    assert.equal(got.length, 0);
    await new WebhookProvider(url, undefined, 2000, trustingClient(caFile)).send(event);
    await new SlackProvider(url, 2000, trustingClient(caFile)).send(event);
    assert.equal(got.length, 2);
  });
});
