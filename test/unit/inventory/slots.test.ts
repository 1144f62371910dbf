import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exampleHost } from '../../fixtures/inventories/hosts.js';

describe('deploy slots: each has its own PM2 process, HTTP port and media ports', () => {
  test('RTC range mode: app.port and app.port + 1, the lower and the upper half of rtcPorts', () => {
    const { a, b } = exampleHost('sandbox').app.slots;
    assert.deepEqual(a, { name: 'a', pm2Name: 'rtcops-a', port: 3000, rtcPorts: { min: 40000, max: 40499 }, webRtcServerPort: undefined, dir: '/srv/rtcops/slots/a' });
    assert.deepEqual(b, { name: 'b', pm2Name: 'rtcops-b', port: 3001, rtcPorts: { min: 40500, max: 40999 }, webRtcServerPort: undefined, dir: '/srv/rtcops/slots/b' });
  });

  test('WebRtcServer mode: slot b\'s workers listen after slot a\'s (4 workers: 44444-44447, then 44448-44451)', () => {
    const { a, b } = exampleHost('prod').app.slots;
    assert.deepEqual([a.webRtcServerPort, b.webRtcServerPort], [44444, 44448]);
  });
});
