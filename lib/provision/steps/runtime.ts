import type { ResolvedHost } from '../../inventory/index.js';
import { layoutOf, NODE_BIN, OPT_DIR, PM2_BIN, APP_PATH, pm2As } from '../../host/index.js';
import { sh } from '../../runner/quote.js';
import { pm2LogrotateSettings } from '../../render/server-env.js';
import type { Action } from '../actions.js';
import { nodeArch, nodeArtifact, pm2Artifact, pm2LogrotateArtifact } from '../artifacts.js';
import type { Step } from '../step.js';

/** The pm2-logrotate settings as module_conf.json holds them (values are strings). */
function logrotateWanted(host: ResolvedHost): string {
  const s = pm2LogrotateSettings(host);
  return JSON.stringify(Object.fromEntries(Object.keys(s).sort().map((k) => [k, s[k]])));
}

function nodeSourceScript(version: string): string {
  const major = version.split('.')[0] ?? '22';
  return [
    'export DEBIAN_FRONTEND=noninteractive',
    'command -v gpg >/dev/null || apt-get -q -y -o DPkg::Lock::Timeout=120 install --no-install-recommends gnupg',
    'install -d -m 0755 /etc/apt/keyrings',
    'curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg',
    `echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${major}.x nodistro main" > /etc/apt/sources.list.d/nodesource.list`,
    'apt-get -q -y -o DPkg::Lock::Timeout=120 update',
    sh`apt-get -q -y -o DPkg::Lock::Timeout=120 install --allow-downgrades ${`nodejs=${version}-1nodesource1`}`,
    `ln -sfn /usr/bin/node ${NODE_BIN}`,
  ].join('\n');
}

/**
 * Node.js (current LTS), PM2 with pm2-logrotate, and `pm2 startup` for the app user. Node comes from NodeSource's
 * apt repository or, with node.source: upload, from the official binaries uploaded from the operator's machine;
 * PM2 and its module are always uploaded, so the host never runs npm.
 */
export const runtimeStep: Step = {
  name: 'runtime',
  title: 'Node.js, PM2 and pm2-logrotate',
  facts: ({ host }) => ({
    services: [layoutOf(host).pm2Unit],
    files: [`/etc/systemd/system/${layoutOf(host).pm2Unit}.service`],
    probes: {
      'runtime.arch': 'uname -m',
      'runtime.node': `${NODE_BIN} --version`,
      'runtime.pm2': `readlink -f ${PM2_BIN}`,
      'runtime.logrotate': sh`jq -r .version ${`${layoutOf(host).pm2Home}/modules/pm2-logrotate/package.json`}`,
      'runtime.logrotateConf': sh`jq -cS '."pm2-logrotate" // {} | with_entries(.value |= tostring)' ${`${layoutOf(host).pm2Home}/module_conf.json`}`,
      'runtime.logrotateOnline': sh`pgrep -u ${host.app.user} -f 'pm2-logrotate' >/dev/null && echo yes`,
    },
  }),
  plan: ({ host }, facts) => {
    const n = host.node;
    const actions: Action[] = [];
    const { pm2Unit: unit, home } = layoutOf(host);
    const has = (k: string) => facts.probes.get(k) ?? '';

    if (has('runtime.node') !== `v${n.version}`) {
      const from = has('runtime.node') === '' ? 'install' : `replace ${has('runtime.node')} with`;
      if (n.source === 'nodesource') {
        actions.push({ kind: 'run', summary: `${from} Node.js ${n.version} from NodeSource`, script: nodeSourceScript(n.version) });
      } else {
        const arch = has('runtime.arch');
        const dir = `${OPT_DIR}/node/${n.version}`;
        actions.push({
          kind: 'upload',
          summary: `${from} Node.js ${n.version} (official binaries, uploaded)`,
          artifact: () => nodeArtifact(n.version, nodeArch(arch)),
          script: [
            sh`dir=${dir}; rm -rf "$dir.new"; install -d -m 0755 "$dir.new"`,
            'tar xzf "$ARTIFACT" -C "$dir.new" --strip-components 1 --no-same-owner',
            '"$dir.new/bin/node" --version >/dev/null',
            'rm -rf "$dir"; mv "$dir.new" "$dir"',
            `ln -sfn "$dir/bin/node" ${NODE_BIN}.rtcops-new && mv -Tf ${NODE_BIN}.rtcops-new ${NODE_BIN}`,
          ].join('\n'),
        });
      }
    }

    const pm2Dir = `${OPT_DIR}/pm2/${host.node.pm2Version}`;
    const pm2Entry = `${pm2Dir}/node_modules/pm2/bin/pm2`;
    if (has('runtime.pm2') !== pm2Entry) {
      actions.push({
        kind: 'upload',
        summary: `install PM2 ${n.pm2Version}`,
        artifact: () => pm2Artifact(n.pm2Version),
        script: [
          sh`dir=${pm2Dir}; rm -rf "$dir.new"; install -d -m 0755 "$dir.new"`,
          'tar xzf "$ARTIFACT" -C "$dir.new" --no-same-owner',
          'rm -rf "$dir"; mv "$dir.new" "$dir"',
          sh`ln -sfn ${pm2Entry} ${PM2_BIN}.rtcops-new && mv -Tf ${PM2_BIN}.rtcops-new ${PM2_BIN}`,
          // A running PM2 daemon of another version keeps serving until it is updated in memory.
          `if systemctl is-active --quiet ${unit}; then ${pm2As(host, ['update'])} >/dev/null; fi`,
        ].join('\n'),
      });
    }

    const svc = facts.services.get(unit);
    if (facts.files.get(`/etc/systemd/system/${unit}.service`)?.exists !== true) {
      actions.push({
        kind: 'run',
        summary: `pm2 startup: ${unit}.service runs PM2 for ${host.app.user} at boot`,
        script: sh`env PATH=${APP_PATH} ${PM2_BIN} startup systemd -u ${host.app.user} --hp ${home} --service-name ${unit} >/dev/null\nsystemctl enable --now ${unit}`,
      });
    } else if (svc?.active !== 'active' || svc.enabled !== 'enabled') {
      actions.push({ kind: 'run', summary: `enable and start ${unit}`, script: sh`systemctl enable --now ${unit}` });
    }

    if (has('runtime.logrotate') !== n.pm2LogrotateVersion || has('runtime.logrotateOnline') !== 'yes') {
      actions.push({
        kind: 'upload',
        summary: `install pm2-logrotate ${n.pm2LogrotateVersion}`,
        artifact: () => pm2LogrotateArtifact(n.pm2LogrotateVersion),
        script: [
          // `pm2 install <file.tgz>` unpacks the module into PM2_HOME/modules and starts it; the app user must read the file.
          sh`mod=$(mktemp /tmp/pm2-logrotate-XXXXXX.tar.gz); cp "$ARTIFACT" "$mod"; chown ${host.app.user} "$mod"`,
          `${pm2As(host, ['uninstall', 'pm2-logrotate'])} >/dev/null 2>&1 || true`,
          `${pm2As(host, ['install'])} "$mod" >/dev/null; rm -f "$mod"`,
          `${pm2As(host, ['save', '--force'])} >/dev/null`,
        ].join('\n'),
      });
    }

    const wanted = logrotateWanted(host);
    if (has('runtime.logrotateConf') !== wanted) {
      const sets = Object.entries(pm2LogrotateSettings(host)).map(([k, v]) => `${pm2As(host, ['set', `pm2-logrotate:${k}`, v])} >/dev/null`);
      actions.push({ kind: 'run', summary: `pm2-logrotate settings ${wanted}`, script: sets.join('\n') });
    }
    return actions;
  },
};
