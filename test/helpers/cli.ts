import { existsSync, writeFileSync } from 'node:fs';
import type { Io } from '../../lib/cli.js';

/** Runs a script's main in-process with `env` applied (undefined removes a variable) and put back afterwards. */
export async function runMain(main: (argv: string[], io: Io) => Promise<number>, argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += `${t}\n`; } };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return { code: await main(argv, io), out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/**
 * Writes an inventory with one host nothing can reach (TEST-NET-1, 192.0.2.10): a command that connected would fail
 * differently and later, so a test using it shows the command stopped before any connection. The host's three
 * secrets are read from `<envPrefix>_JWT`, `<envPrefix>_ADMIN` and `<envPrefix>_TURN`. A placeholder key file is
 * written at keyPath when there is none, so the check of the files the inventory names passes.
 */
export function writeUnreachableInventory(file: string, host: string, keyPath: string, envPrefix: string): string {
  if (!existsSync(keyPath)) writeFileSync(keyPath, 'placeholder: never used, nothing is reached\n', { mode: 0o600 });
  writeFileSync(file, `
hosts:
  ${host}:
    os: debian-12
    adminCidrs: [192.0.2.0/24]
    ssh: { address: 192.0.2.10, user: deploy, keyPath: ${keyPath}, fingerprint: "SHA256:FmdugJhXwX678SqBTAWFZ290VqeBb8HqVmN5wXZ/iJk", connectTimeoutMs: 1000 }
    acme: { email: ops@example.test }
    secrets: { jwtSecret: { env: ${envPrefix}_JWT }, adminToken: { env: ${envPrefix}_ADMIN }, turnSecret: { env: ${envPrefix}_TURN } }
    app: { domains: [rtc.example.test] }
    mediasoup: { announcedIp: 192.0.2.10 }
    turn: { domain: turn.example.test }
`);
  return file;
}
