import { posix } from 'node:path';
import { layoutOf, NODE_BIN } from '../../host/index.js';
import { sh, shQuote } from '../../runner/quote.js';
import { daemonBundle, type Artifact } from '../artifacts.js';
import type { Action } from '../actions.js';
import { untilReady } from '../apply.js';
import type { Step } from '../step.js';

const BUNDLE = 'daemon-bundle';

/**
 * The health daemon: the bundle built on the operator's machine, checked on the host with the daemon's own
 * --check-config (the installed config and env file, as the app user) before it replaces the running one;
 * its unit enabled and running. Its config files come from the config step and restart it when they change.
 */
export const daemonStep: Step = {
  name: 'daemon',
  title: 'health daemon',
  prepare: async (ctx) => {
    ctx.prepared.set(BUNDLE, await daemonBundle());
  },
  facts: ({ host }) => ({ files: [layoutOf(host).daemonEntry], services: [layoutOf(host).daemonUnit] }),
  plan: ({ host, prepared }, facts) => {
    const bundle = prepared.get(BUNDLE) as Artifact;
    const { daemonUnit: unit, daemonEntry } = layoutOf(host);
    const actions: Action[] = [];
    // package.json beside the entry makes the bundle an ES module.
    if (facts.files.get(daemonEntry)?.sha256 !== bundle.sha256) {
      const dist = posix.dirname(daemonEntry);
      actions.push({
        kind: 'upload',
        summary: `install the health daemon (${bundle.name})`,
        artifact: () => Promise.resolve(bundle),
        script: [
          sh`dir=${dist}; root=${host.app.daemonDir}`,
          'install -d -m 0755 "$dir"',
          `printf '{"type":"module","private":true}\\n' > "$root/package.json"`,
          'install -m 0644 "$ARTIFACT" "$dir/main.new.js"',
          // The new bundle must accept the installed config and secrets before it replaces the old one.
          sh`if ! out=$(systemd-run --quiet --wait --pipe --collect -p User=${host.app.user} -p EnvironmentFile=${host.app.daemonEnvFile} ${NODE_BIN} "$dir/main.new.js" --config ${host.app.daemonConfigFile} --check-config 2>&1); then`,
          '  rm -f "$dir/main.new.js"; echo "the health daemon refuses its config: $out" >&2; exit 1',
          'fi',
          'mv -f "$dir/main.new.js" "$dir/main.js"',
          sh`systemctl daemon-reload; systemctl try-restart ${unit}`,
        ].join('\n'),
      });
    }
    const svc = facts.services.get(unit);
    if (svc?.active !== 'active' || svc.enabled !== 'enabled') {
      actions.push({
        kind: 'run',
        summary: `enable and start ${unit}`,
        script: startAndWait(unit),
      });
    }
    return actions;
  },
};

/**
 * Starts the unit and waits until this invocation of the daemon has logged that it started (its config and
 * secrets loaded, its checks scheduled), at most 15 s; a crash or a restart loop shows the journal's last lines.
 * The line is logged at info, the level of the config rtcops renders (it sets no logLevel).
 */
function startAndWait(unit: string): string {
  const q = shQuote(unit);
  return [
    'systemctl daemon-reload',
    sh`systemctl enable --now ${unit}`,
    sh`id=$(systemctl show -p InvocationID --value ${unit})`,
    // grep without -q reads all of its input: journalctl never sees a closed pipe.
    untilReady(q, `journalctl "_SYSTEMD_INVOCATION_ID=$id" --no-pager -o cat 2>/dev/null | grep -F '"event":"daemon_started"'`, { what: 'report started', journalLines: 8 }),
  ].join('\n');
}
