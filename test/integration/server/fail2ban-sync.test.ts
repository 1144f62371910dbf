import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, spawnServer } from '../../helpers/process.js';
import { testEnv, token } from '../../helpers/server.js';

const FILTER = fileURLToPath(new URL('../../../templates/fail2ban/filter.d/rtcops-signaling-auth.conf', import.meta.url));

function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
}

describe('the fail2ban signaling filter matches what the real server logs', () => {
  it('bans the client address of every rejected token, and nothing from accepted peers', async () => {
    const port = await freePort();
    const srv = spawnServer(testEnv({ PORT: String(port), TRUST_PROXY: '1', LOG_LEVEL: 'info' }));
    const dir = mkdtempSync(join(tmpdir(), 'rtcops-f2b-sync-'));
    try {
      await srv.waitForLog('listening');
      const url = `ws://127.0.0.1:${port}/signaling`;
      // Behind nginx the client address arrives in X-Real-IP (the socket peer is loopback).
      const attacker = { 'x-real-ip': '203.0.113.9' };
      const statuses = [
        await upgrade(url, attacker),
        await upgrade(`${url}?token=garbage`, attacker),
        await upgrade(`${url}?token=${token({ sub: 'a', room: 'r', exp: Math.floor(Date.now() / 1000) - 600 })}`, attacker),
        await upgrade(`${url}?room=other&token=${token({ sub: 'a', room: 'r' })}`, attacker),
        await upgrade(`${url}?token=${token({ sub: 'a', room: 'r', exp: 32472144000 })}`, attacker),
        await upgrade(`${url}?token=${token({ sub: 'b', room: 'r' })}`, { ...attacker, authorization: `Bearer ${token({ sub: 'a', room: 'r' })}` }),
        // Past Node's header limit: answered 431 before any route runs, still logged with the address from X-Real-IP.
        await upgrade(url, { ...attacker, authorization: `Bearer ${'a'.repeat(100_000)}` }),
        await upgrade(`${url}?token=${token({ sub: 'ok', room: 'r' })}`, { 'x-real-ip': '198.51.100.20' }),
      ];
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 431, 101]);
      await new Promise((r) => setTimeout(r, 200));
      const log = join(dir, 'server.out.log');
      writeFileSync(log, `${srv.lines.join('\n')}\n`);
      const out = execFileSync('fail2ban-regex', ['-v', '--no-check-all', log, FILTER], { encoding: 'utf8' });
      const summary = /^Lines: (\d+) lines, \d+ ignored, (\d+) matched, (\d+) missed/m.exec(out);
      assert.ok(summary, out);
      assert.equal(Number(summary[2]), 7, `exactly the 7 rejections match:\n${out}`);
      const banned = new Set([...out.matchAll(/^\|\s+(\d+\.\d+\.\d+\.\d+)\s+\w{3} \w{3} /gm)].map((m) => m[1]));
      assert.deepEqual([...banned], ['203.0.113.9']);
    } finally {
      srv.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
