import type { Action } from '../actions.js';
import { fileActions } from '../managed-files.js';
import type { Step, StepContext } from '../step.js';

const OWN_STEP = new Set(['sshd-hardening']);

/** Files another file's validation reads go first: fail2ban-client -t on jail.local needs its filters. */
const FIRST = new Set(['fail2ban-filter-signaling-auth']);

function files(ctx: StepContext) {
  const own = ctx.rendered.files.filter((f) => !OWN_STEP.has(f.id));
  return [...own.filter((f) => FIRST.has(f.id)), ...own.filter((f) => !FIRST.has(f.id))];
}

/** Every rendered config file (but sshd's, which has its own guarded step), plus which nginx site is enabled. */
export const configFilesStep: Step = {
  name: 'config',
  title: 'config files (nginx, coturn, fail2ban, apt, PM2, env, daemon)',
  facts: (ctx) => ({
    files: [...files(ctx).map((f) => f.path), enabledSite(ctx), '/etc/nginx/sites-enabled/default', ctx.host.tls.fullchain],
  }),
  plan: (ctx, facts) => {
    const actions: Action[] = fileActions(files(ctx), facts);
    // Before certbot has a certificate, nginx serves the first-boot site (ACME over HTTP only).
    const certExists = facts.files.get(ctx.host.tls.fullchain)?.exists === true;
    const app = ctx.host.app.name;
    const target = `/etc/nginx/sites-available/${certExists ? app : `${app}-first-boot`}.conf`;
    if (facts.files.get(enabledSite(ctx))?.link !== target) {
      actions.push({ kind: 'link', summary: `enable nginx site ${target}`, path: enabledSite(ctx), target, validate: 'nginx -t -q', notify: ['reload nginx'] });
    }
    if (facts.files.get('/etc/nginx/sites-enabled/default')?.exists === true) {
      actions.push({ kind: 'run', summary: 'disable the stock nginx default site', script: 'rm -f /etc/nginx/sites-enabled/default', notify: ['reload nginx'] });
    }
    return actions;
  },
};

function enabledSite(ctx: StepContext): string {
  return `/etc/nginx/sites-enabled/${ctx.host.app.name}.conf`;
}
