import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyArgv, proxyConfig } from '../../../lib/sandbox/apt-proxy.js';
import { guestFiles, nspawnArgv } from '../../../lib/sandbox/guest.js';
import { layoutFor } from '../../../lib/sandbox/layout.js';
import { mountsUnder, overlayMountArgv } from '../../../lib/sandbox/mounts.js';
import { rootMountIsOverlay } from '../../../lib/sandbox/processes.js';

const layout = layoutFor('sandbox', '/state', 0);

describe('sandbox mounts', () => {
  it('lists mounts below a directory deepest first, decoding spaces', () => {
    const mounts = [
      'proc /proc proc rw 0 0',
      'rtcops-sandbox /state/instances/sandbox/layer tmpfs rw 0 0',
      'rtcops-sandbox /state/instances/sandbox/root overlay rw 0 0',
      'x /state/instances/sandbox/root/mnt/a\\040b tmpfs rw 0 0',
      'y /state/instances/sandbox2/root overlay rw 0 0',
    ].join('\n');
    assert.deepEqual(mountsUnder('/state/instances/sandbox', mounts), [
      '/state/instances/sandbox/root/mnt/a b',
      '/state/instances/sandbox/layer',
      '/state/instances/sandbox/root',
    ]);
  });

  it('stacks a throw-away upper layer from the tmpfs over the cached image', () => {
    assert.deepEqual(overlayMountArgv('/state/image', layout.layerDir, layout.rootDir), [
      'mount', '-t', 'overlay', 'rtcops-sandbox', '-o',
      'lowerdir=/state/image,upperdir=/state/instances/sandbox/layer/upper,workdir=/state/instances/sandbox/layer/work',
      '/state/instances/sandbox/root',
    ]);
  });
});

describe('sandbox guest', () => {
  it('boots with systemd as PID 1 on the bridge, without registering with the host systemd', () => {
    const argv = nspawnArgv(layout);
    for (const flag of ['--boot', '--network-bridge=rtcops-sb0', '--register=no', '--keep-unit', '--machine=sandbox', '--link-journal=no']) {
      assert.ok(argv.includes(flag), flag);
    }
  });

  it('gets its name, static address, apt proxy and the operator key for each boot', () => {
    const files = Object.fromEntries(guestFiles(layout, 'ssh-ed25519 KEY op\n').map((f) => [f.path, f]));
    assert.equal(files['etc/hostname']?.content, 'sandbox\n');
    assert.match(files['etc/network/interfaces.d/host0']?.content ?? '', /address 10\.77\.0\.2\/24/);
    assert.equal(files['etc/apt/apt.conf.d/01rtcops-sandbox-proxy']?.content, 'Acquire::http::Proxy "http://10.77.0.1:3142";\n');
    assert.deepEqual(files['home/rtcops/.ssh/authorized_keys'], {
      path: 'home/rtcops/.ssh/authorized_keys', content: 'ssh-ed25519 KEY op\n', owner: 1000, mode: 0o600,
    });
  });

  it('binds the apt proxy to the bridge address only and keeps its files in the state directory', () => {
    const config = proxyConfig(layout);
    assert.match(config, /^BindAddress: 10\.77\.0\.1$/m);
    assert.match(config, /^CacheDir: \/state\/apt-proxy\/cache\/sandbox$/m);
    assert.match(config, /^ForeGround: 1$/m);
    assert.equal(proxyArgv(layout, 'x64')[0], '/state/images/debian-12/lib64/ld-linux-x86-64.so.2');
    assert.equal(proxyArgv(layoutFor('d13', '/state', 5, 'debian-13'), 'x64')[3], '/state/images/debian-13.apt-proxy/root/usr/sbin/apt-cacher-ng', 'each release runs its own apt-cacher-ng');
    assert.throws(() => proxyArgv(layout, 'riscv64'), /x64 and arm64/);
  });
});

describe('finding a container from the host', () => {
  const overlay = (point: string) =>
    `104 82 0:40 / ${point} rw,relatime shared:1 - overlay rtcops-sandbox rw,lowerdir=/state/image,upperdir=/state/instances/sandbox/layer/upper,workdir=/state/instances/sandbox/layer/work,uuid=on`;
  const cases: [string, string, boolean][] = [
    ['a guest process: its own "/" is the overlay', overlay('/'), true],
    ['a host process that merely sees the overlay mounted', `22 1 254:0 / / rw - ext4 /dev/vda rw\n${overlay('/state/instances/sandbox/root')}`, false],
    ['another sandbox', overlay('/').replaceAll('instances/sandbox/', 'instances/other/'), false],
  ];
  for (const [name, mountinfo, expected] of cases) {
    it(`${expected ? 'recognizes' : 'ignores'} ${name}`, () =>
      assert.equal(rootMountIsOverlay('0', '/state/instances/sandbox/layer/upper', mountinfo), expected));
  }
});
