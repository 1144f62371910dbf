// Changes tests make to a running guest beyond a plain VM: trusting a test CA (pebble's, a local ACME server's).
import { SandboxConfigError, SandboxFailure } from './errors.js';
import { runInGuest, type SshTarget } from './ssh.js';

// Adds a PEM CA certificate to the guest's system trust store (update-ca-certificates).
export async function trustCaInGuest(target: SshTarget, pem: string, label = 'rtcops-test-ca'): Promise<void> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(label)) throw new SandboxConfigError(`CA label "${label}" must be lowercase letters, digits and "-"`);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new SandboxConfigError('the CA must be a PEM certificate');
  const result = await runInGuest(
    target,
    `sudo tee /usr/local/share/ca-certificates/${label}.crt >/dev/null && sudo update-ca-certificates >/dev/null`,
    { stdin: pem },
  );
  if (result.code !== 0) throw new SandboxFailure(`could not add the CA to the guest's trust store: ${result.stderr || result.stdout}`);
}
