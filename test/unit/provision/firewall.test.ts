import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeTuples, describeUfwCommand, lineDelta, ruleLines } from '../../../lib/provision/firewall-state.js';
import { firewallDrift } from '../../../lib/provision/steps/firewall.js';
import { parseFacts } from '../../../lib/provision/facts.js';

describe('the firewall plan and ufw files, described rule by rule', () => {
  for (const [argv, want] of [
    [['ufw', 'default', 'deny', 'incoming'], 'default deny incoming'],
    [['ufw', 'allow', 'proto', 'tcp', 'from', '10.0.0.1/32', 'to', 'any', 'port', '22', 'comment', 'ssh'], 'allow tcp 22 from 10.0.0.1 (ssh)'],
    [['ufw', 'limit', 'proto', 'tcp', 'from', '10.0.0.0/24', 'to', 'any', 'port', '22', 'comment', 'ssh'], 'limit tcp 22 from 10.0.0.0/24 (ssh)'],
    [['ufw', 'allow', 'proto', 'udp', 'from', 'any', 'to', 'any', 'port', '40000:40999', 'comment', 'rtc'], 'allow udp 40000:40999 from any (rtc)'],
  ] as const) test(`${argv.join(' ')} → ${want}`, () => assert.equal(describeUfwCommand(argv), want));

  test('ufw tuples: IPv4 and its IPv6 copy describe one rule; comments decoded; a hand-added rule has none', () => {
    const hex = Buffer.from('ssh from admin').toString('hex');
    assert.deepEqual(describeTuples([
      `### tuple ### allow tcp 22 0.0.0.0/0 any 10.0.0.1 in comment=${hex}`,
      '### tuple ### allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in comment=6874747073',
      '### tuple ### allow tcp 443 ::/0 any ::/0 in comment=6874747073',
      '### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in',
    ].join('\n')), ['allow tcp 22 from 10.0.0.1 (ssh from admin)', 'allow tcp 443 from any (https)', 'allow tcp 8080 from any']);
  });

  for (const [name, have, want, missing, extra] of [
    ['same', ['a', 'b'], ['b', 'a'], [], []],
    ['one added, one removed', ['a', 'b'], ['a', 'c'], ['c'], ['b']],
    ['a repeated line counts', ['a', 'a'], ['a'], [], ['a']],
  ] as const) test(`lineDelta: ${name}`, () => assert.deepEqual(lineDelta(have, want), { missing, extra }));

  test('ruleLines keeps rules and chain policies, not the table header, COMMIT or blanks', () => {
    assert.deepEqual(ruleLines('*filter\n:INPUT DROP [0:0]\n-A INPUT -j ufw-before-input\nCOMMIT\n'), [':INPUT DROP [0:0]', '-A INPUT -j ufw-before-input']);
  });
});

/** Facts as the step's probes print them. */
function facts(probes: Record<string, string>) {
  const out = Object.entries(probes).map(([k, v]) => `@@rtcops@@ probe ${k}\n${v}`).join('\n');
  return parseFacts(`@@rtcops@@ os\ndebian\n12\nnone\n${out}\n`, '10.0.0.1');
}

const planned = ['default deny incoming', 'allow tcp 22 from 10.0.0.1 (ssh)', 'allow tcp 443 from any (https)'];
const applied = {
  'firewall.state': JSON.stringify({ plan: 'p1', rules: planned }),
  'firewall.files': '/etc/ufw/user.rules aaa\n/etc/default/ufw bbb',
  'firewall.installed': '/etc/ufw/user.rules aaa\n/etc/default/ufw bbb',
  'firewall.tuples': `### tuple ### allow tcp 22 0.0.0.0/0 any 10.0.0.1 in comment=${Buffer.from('ssh').toString('hex')}\n### tuple ### allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in comment=${Buffer.from('https').toString('hex')}`,
  'firewall.loaded': ':INPUT DROP [0:0]\n-A ufw-user-input -p tcp --dport 443 -j ACCEPT\n@@v6\n:INPUT DROP [0:0]',
  'firewall.recorded': ':INPUT DROP [0:0]\n-A ufw-user-input -p tcp --dport 443 -j ACCEPT\n@@v6\n:INPUT DROP [0:0]',
};

describe('firewall drift: facts in, the reasons (and their rules) out', () => {
  const drift = (over: Record<string, string>, plan = 'p1', rules = planned) => firewallDrift(facts({ ...applied, ...over }), rules, plan).map((d) => d.summary);
  test('applied, nothing touched: no change', () => assert.deepEqual(drift({}), []));
  test('never applied by rtcops: apply the whole plan', () => assert.deepEqual(drift({ 'firewall.state': '' }), ['apply the plan (3 rules)']));
  test('the plan changed: what it adds and removes', () => assert.deepEqual(drift({}, 'p2', [...planned.slice(0, 2), 'allow tcp 8443 from any (alt)']),
    ['the plan changed: missing allow tcp 8443 from any (alt); extra allow tcp 443 from any (https)']));
  test('a rule added with ufw by hand: named, in ufw terms', () => assert.deepEqual(drift({
    'firewall.files': '/etc/ufw/user.rules ccc\n/etc/default/ufw bbb',
    'firewall.tuples': `${applied['firewall.tuples']}\n### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in`,
  }), ['ufw rules edited by hand: extra allow tcp 8080 from any']));
  test('another ufw file edited by hand: named', () => assert.deepEqual(drift({ 'firewall.files': '/etc/ufw/user.rules aaa\n/etc/default/ufw zzz' }), ['ufw files edited by hand (/etc/default/ufw)']));
  test('a rule inserted with iptables: the loaded rule set names it', () => assert.deepEqual(drift({
    'firewall.loaded': ':INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 9100 -j ACCEPT\n-A ufw-user-input -p tcp --dport 443 -j ACCEPT\n@@v6\n:INPUT DROP [0:0]',
  }), ['the loaded rules differ from the plan: extra -A INPUT -p tcp -m tcp --dport 9100 -j ACCEPT']));
  test('a flushed firewall (policy ACCEPT, rules gone): what is missing', () => assert.deepEqual(drift({ 'firewall.loaded': ':INPUT ACCEPT [0:0]\n@@v6\n:INPUT DROP [0:0]' }),
    ['the loaded rules differ from the plan: missing :INPUT DROP [0:0], -A ufw-user-input -p tcp --dport 443 -j ACCEPT; extra :INPUT ACCEPT [0:0]']));
});
