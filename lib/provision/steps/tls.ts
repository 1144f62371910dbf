import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ACME_CA_PATH, CERTBOT_DROPIN, ISSUER_ROOTS_PATH, layoutOf } from '../../host/index.js';
import { RemoteError } from '../../runner/errors.js';
import { sh, shJoin } from '../../runner/quote.js';
import type { Action } from '../actions.js';
import type { Step, StepContext } from '../step.js';


function issuerRoots(ctx: StepContext): string | undefined {
  const file = ctx.host.acme.issuerRoots;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RemoteError(ctx.host.name, `cannot read acme.issuerRoots ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      file.includes('sandbox') ? 'start the sandbox\'s ACME server: npx zx scripts/sandbox.mjs up' : 'point acme.issuerRoots at the PEM roots of your test ACME server, or remove it for Let\'s Encrypt');
  }
}

function caBundle(ctx: StepContext): string | undefined {
  const file = ctx.host.acme.caBundle;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RemoteError(ctx.host.name, `cannot read acme.caBundle ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'point acme.caBundle at the PEM CA of your ACME server, or remove it for Let\'s Encrypt');
  }
}

/**
 * The certificate for the app and TURN names, by HTTP-01 through the first-boot nginx site; then nginx switches
 * to the TLS site and coturn gets the certificate (the deploy hook), and the renewal timer runs.
 */
export const tlsStep: Step = {
  name: 'tls',
  title: 'TLS certificate (certbot)',
  facts: ({ host }) => ({
    files: [host.tls.fullchain, ACME_CA_PATH, CERTBOT_DROPIN, ISSUER_ROOTS_PATH],
    services: ['certbot.timer'],
    probes: {
      'tls.names': sh`openssl x509 -in ${host.tls.fullchain} -noout -ext subjectAltName | grep -o 'DNS:[^,]*' | cut -d: -f2 | sort | tr '\\n' ' '`,
      'tls.caSha256': `sha256sum ${ACME_CA_PATH} | cut -d' ' -f1`,
      'tls.rootsSha256': `sha256sum ${ISSUER_ROOTS_PATH} | cut -d' ' -f1`,
    },
  }),
  plan: (ctx, facts) => {
    const { host } = ctx;
    const actions: Action[] = [];
    const ca = caBundle(ctx);
    if (ca !== undefined) {
      if (facts.probes.get('tls.caSha256') !== createHash('sha256').update(ca).digest('hex')) {
        actions.push({ kind: 'file', summary: `trust the ACME server's CA (${ACME_CA_PATH})`, path: ACME_CA_PATH, content: ca, mode: '0644', owner: 'root', group: 'root', secret: false });
      }
      if (facts.files.get(CERTBOT_DROPIN)?.exists !== true) {
        actions.push({
          kind: 'file', summary: 'renewals trust the ACME server\'s CA', path: CERTBOT_DROPIN, mode: '0644', owner: 'root', group: 'root', secret: false,
          content: `[Service]\nEnvironment=REQUESTS_CA_BUNDLE=${ACME_CA_PATH}\n`, notify: ['systemd daemon-reload'],
        });
      }
    }
    const roots = issuerRoots(ctx);
    if (roots !== undefined && facts.probes.get('tls.rootsSha256') !== createHash('sha256').update(roots).digest('hex')) {
      actions.push({
        kind: 'file', summary: `the health daemon trusts the ACME server's certificate roots (${ISSUER_ROOTS_PATH})`, path: ISSUER_ROOTS_PATH, content: roots,
        mode: '0644', owner: 'root', group: 'root', secret: false, notify: ['restart health daemon'],
      });
    }
    const want = [...host.tls.names].sort().join(' ');
    const have = (facts.probes.get('tls.names') ?? '').trim();
    if (facts.files.get(host.tls.fullchain)?.exists !== true || have !== want) {
      const hook = layoutOf(host).certbotDeployHook;
      const argv = [
        'certbot', 'certonly', '--non-interactive', '--agree-tos', '--email', host.acme.email, '--server', host.acme.directoryUrl,
        '--webroot', '-w', host.tls.webroot, '--cert-name', host.tls.certName, '--expand', '--deploy-hook', hook,
        ...host.tls.names.flatMap((n) => ['-d', n]),
      ];
      actions.push({
        kind: 'run',
        summary: `obtain a certificate for ${host.tls.names.join(', ')} from ${host.acme.directoryUrl}`,
        script: [
          sh`install -d -m 0755 ${host.tls.webroot}`,
          `${ca !== undefined ? `REQUESTS_CA_BUNDLE=${ACME_CA_PATH} ` : ''}${shJoin(argv)}`,
        ].join('\n'),
        notify: ['reload nginx', 'restart coturn'],
      });
      const { nginxSite: site, nginxEnabledSite } = layoutOf(host);
      actions.push({ kind: 'link', summary: `serve HTTPS: enable ${site}`, path: nginxEnabledSite, target: site, validate: 'nginx -t -q', notify: ['reload nginx'] });
    }
    const timer = facts.services.get('certbot.timer');
    if (timer?.active !== 'active' || timer.enabled !== 'enabled') {
      actions.push({ kind: 'run', summary: 'enable the certbot renewal timer', script: 'systemctl enable --now certbot.timer' });
    }
    return actions;
  },
};
