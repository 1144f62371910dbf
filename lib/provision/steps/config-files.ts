import { layoutOf, NGINX_DEFAULT_SITE } from '../../host/index.js';
import type { Action } from '../actions.js';
import { fileActions } from '../managed-files.js';
import { initialUpstreamScript } from '../../deploy/slots.js';
import type { Step, StepContext } from '../step.js';

/** The rendered files this step installs, in the table's order (lib/render/files.ts). */
function files(ctx: StepContext) {
  return ctx.rendered.files.filter((f) => f.installedBy === 'config');
}

/** Every rendered config file (but sshd's, which has its own guarded step), plus which nginx site is enabled. */
export const configFilesStep: Step = {
  name: 'config',
  title: 'config files (nginx, coturn, fail2ban, apt, PM2, env, daemon)',
  facts: (ctx) => ({
    files: [ctx.host.nginx.upstreamFile, ...files(ctx).map((f) => f.path), layoutOf(ctx.host).nginxEnabledSite, NGINX_DEFAULT_SITE, ctx.host.tls.fullchain],
  }),
  plan: (ctx, facts) => {
    const actions: Action[] = [];
    // The site includes the upstream file; a deploy owns it once it exists (a re-run must not undo its switch).
    if (facts.files.get(ctx.host.nginx.upstreamFile)?.exists !== true) {
      actions.push({ kind: 'run', summary: `create ${ctx.host.nginx.upstreamFile} (nginx → deploy slot a)`, script: initialUpstreamScript(ctx.host) });
    }
    actions.push(...fileActions(files(ctx), facts));
    // Before certbot has a certificate, nginx serves the first-boot site (ACME over HTTP only).
    const certExists = facts.files.get(ctx.host.tls.fullchain)?.exists === true;
    const layout = layoutOf(ctx.host);
    const target = certExists ? layout.nginxSite : layout.nginxFirstBootSite;
    if (facts.files.get(layout.nginxEnabledSite)?.link !== target) {
      actions.push({ kind: 'link', summary: `enable nginx site ${target}`, path: layout.nginxEnabledSite, target, validate: 'nginx -t -q', notify: ['reload nginx'] });
    }
    if (facts.files.get(NGINX_DEFAULT_SITE)?.exists === true) {
      actions.push({ kind: 'run', summary: 'disable the stock nginx default site', script: `rm -f ${NGINX_DEFAULT_SITE}`, notify: ['reload nginx'] });
    }
    return actions;
  },
};
