import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMountinfo, watchedMounts } from '../../../lib/checks/disk.js';

// /proc/self/mountinfo of a VM with a data volume, as the daemon's unit sees it (PrivateTmp, ProtectHome bind mounts).
const VM = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '23 27 0:22 / /sys rw,relatime - sysfs sysfs rw',
  '24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw',
  '27 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw',
  '28 27 254:15 / /boot/efi rw,relatime - vfat /dev/vda15 rw',
  '29 27 254:16 / /var/lib/rtcops\\040data rw,relatime - xfs /dev/vdb rw',
  '30 27 0:30 / /run rw,nosuid - tmpfs tmpfs rw',
  '31 27 7:0 / /snap/core/1 ro - squashfs /dev/loop0 ro',
  '32 27 254:1 /tmp/systemd-private-x/tmp /tmp rw,relatime - ext4 /dev/vda1 rw',
  '33 27 254:1 /home /home ro,relatime - ext4 /dev/vda1 rw',
  '34 27 0:40 / /mnt/backup rw - nfs4 nas:/backup rw',
].join('\n');
// A container (the sandbox): the root is an overlay.
const CONTAINER = '50 40 0:41 / / rw - overlay overlay rw,lowerdir=/x\n51 50 0:42 / /tmp rw - tmpfs tmpfs rw';

describe('disk: which mounts are watched', () => {
  const cases: [string, string, string[], boolean, [string, boolean][]][] = [
    ['every real filesystem once (bind mounts of / count as /), never pseudo, tmpfs or squashfs', VM, [], true,
      [['/', false], ['/boot/efi', false], ['/mnt/backup', false], ['/var/lib/rtcops data', false]]],
    ['a named mount that is mounted is watched once', VM, ['/var/lib/rtcops data'], true,
      [['/', false], ['/boot/efi', false], ['/mnt/backup', false], ['/var/lib/rtcops data', false]]],
    ['a named mount that is not mounted is marked missing', VM, ['/srv/logs'], true,
      [['/', false], ['/boot/efi', false], ['/mnt/backup', false], ['/srv/logs', true], ['/var/lib/rtcops data', false]]],
    ['only the named ones (and /) when discovery is off', VM, ['/var/lib/rtcops data'], false, [['/', false], ['/var/lib/rtcops data', false]]],
    ['a container: / whatever its type, tmpfs left out', CONTAINER, [], true, [['/', false]]],
  ];
  for (const [name, mountinfo, mounts, allFilesystems, expected] of cases) {
    it(name, () => assert.deepEqual(watchedMounts(parseMountinfo(mountinfo), { mounts, allFilesystems }).map((w) => [w.mount, w.missing]), expected));
  }
});
