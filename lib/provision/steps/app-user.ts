import type { ResolvedHost } from '../../inventory/index.js';
import { sh } from '../../runner/quote.js';
import { layoutOf } from '../../host/index.js';
import type { Action } from '../actions.js';
import type { Step } from '../step.js';

/** The non-root app user and the release layout: /srv/<app>/{releases,shared,shared/logs}. */
export const appUserStep: Step = {
  name: 'app-user',
  title: 'app user, directories and log files',
  facts: ({ host }) => ({
    users: [host.app.user],
    dirs: [host.app.root, host.app.releasesDir, host.app.sharedDir, host.app.logDir],
    files: [host.app.outLog, host.app.errorLog, ...nginxLogs(host)],
  }),
  plan: ({ host }, facts) => {
    const u = host.app.user;
    const actions: Action[] = [];
    if (!facts.users.has(u)) {
      actions.push({ kind: 'run', summary: `create user ${u}`, script: sh`useradd --system --create-home --home-dir ${layoutOf(host).home} --shell /bin/bash --user-group ${u}` });
    }
    const wrongDirs = [host.app.root, host.app.releasesDir, host.app.sharedDir, host.app.logDir].filter((d) => {
      const f = facts.files.get(d);
      return f?.exists !== true || f.mode !== '0750' || f.owner !== u || f.group !== u;
    });
    if (wrongDirs.length > 0) {
      actions.push({ kind: 'run', summary: `directories ${wrongDirs.join(' ')}`, script: sh`install -d -m 0750 -o ${u} -g ${u} ${wrongDirs}` });
    }
    // fail2ban's signaling jail reads the server's log: it must exist before the jail starts.
    const wrongLogs = [host.app.outLog, host.app.errorLog].filter((l) => {
      const f = facts.files.get(l);
      return f?.exists !== true || f.owner !== u || f.mode !== '0640';
    });
    if (wrongLogs.length > 0) {
      actions.push({ kind: 'run', summary: `log files ${wrongLogs.join(' ')}`, script: wrongLogs.map((l) => sh`touch ${l} && chown ${u}:${u} ${l} && chmod 0640 ${l}`).join('\n') });
    }
    // The nginx jails read the site's own logs, which nginx creates only once it serves the site.
    const missingNginx = nginxLogs(host).filter((l) => facts.files.get(l)?.exists !== true);
    if (missingNginx.length > 0) {
      actions.push({ kind: 'run', summary: `log files ${missingNginx.join(' ')}`, script: [sh`install -d -m 0755 ${host.nginx.logDir}`, ...missingNginx.map((l) => sh`touch ${l} && chmod 0640 ${l}`)].join('\n') });
    }
    return actions;
  },
};

function nginxLogs(host: ResolvedHost): string[] {
  return [`${host.nginx.logDir}/${host.app.name}.access.log`, `${host.nginx.logDir}/${host.app.name}.error.log`];
}
