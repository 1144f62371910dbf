import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { Secret } from '../inventory/index.js';

/**
 * The operator's backup key: an age X25519 identity (AGE-SECRET-KEY-1…, what `age-keygen` writes) in a 0600 file or
 * in RTCOPS_BACKUP_KEY. A backup needs only the public recipient (age1…), so a file holding just that works for
 * backups too; a restore needs the identity.
 */
export const KEY_ENV = 'RTCOPS_BACKUP_KEY';

/** The operator gave a key that cannot be used; `hint` says what to do. Never carries key material. */
export class BackupKeyError extends Error {
  override name = 'BackupKeyError';
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

export interface BackupKey {
  recipient: string;
  identity: Secret | undefined;
  /** Where it came from, for messages: "--key-file /path" or "RTCOPS_BACKUP_KEY". */
  source: string;
}

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/;
const RECIPIENT = /^age1[0-9a-z]{58}$/;
const NEW_KEY_HINT = 'make one with: npx zx scripts/backup.mjs --new-key <path> (or age-keygen -o <path>), and keep a copy off the host and off this machine';

/** Parses the text of a key file or the variable: comment lines (#) and blank lines are ignored. */
export async function parseKey(text: string, source: string): Promise<BackupKey> {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1) {
    throw new BackupKeyError(`${source} must hold exactly one age identity (AGE-SECRET-KEY-1…) or recipient (age1…), found ${lines.length} line(s)`, NEW_KEY_HINT);
  }
  const line = lines[0] ?? '';
  if (IDENTITY.test(line)) return { recipient: await identityToRecipient(line), identity: new Secret(line), source };
  if (RECIPIENT.test(line)) return { recipient: line, identity: undefined, source };
  throw new BackupKeyError(`${source} is not an age X25519 identity (AGE-SECRET-KEY-1…) or recipient (age1…)`, NEW_KEY_HINT);
}

/** The key from --key-file (must not be readable by group or others) or else from RTCOPS_BACKUP_KEY. */
export async function loadKey(keyFile: string | undefined, env: Record<string, string | undefined> = process.env): Promise<BackupKey> {
  if (keyFile !== undefined) {
    let mode: number;
    try {
      mode = statSync(keyFile).mode & 0o777;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new BackupKeyError(`cannot read the backup key file ${keyFile} (${code})`, code === 'ENOENT' ? NEW_KEY_HINT.replace('<path>', keyFile).replace(' (or age-keygen -o <path>)', '') : `check ${keyFile} and its directory (${code})`);
    }
    if ((mode & 0o077) !== 0) {
      throw new BackupKeyError(`the backup key file ${keyFile} is readable by others (mode ${mode.toString(8).padStart(4, '0')})`, `chmod 600 ${keyFile}`);
    }
    return parseKey(readFileSync(keyFile, 'utf8'), `--key-file ${keyFile}`);
  }
  const value = env[KEY_ENV];
  if (value !== undefined && value.trim() !== '') return parseKey(value, KEY_ENV);
  throw new BackupKeyError(`no backup key: give --key-file <path> or set ${KEY_ENV}`, NEW_KEY_HINT);
}

/**
 * Writes a new identity to `file` (mode 0600, never over an existing file) and returns its recipient. Missing parent
 * directories are created 0700 (README's ~/.config/rtcops does not exist on a fresh machine); existing ones are left as they are.
 */
export async function writeNewKey(file: string): Promise<string> {
  if (existsSync(file)) throw new BackupKeyError(`${file} already exists; a key is never overwritten`, 'choose another path (losing a key loses every backup made with it)');
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `# rtcops backup key, created ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BackupKeyError(`cannot write the new backup key ${file} (${code})`, `choose a path in a directory you can write (${dirname(file)} is not one)`);
  }
  return recipient;
}

export async function encryptTo(recipient: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return e.encrypt(plaintext);
}

/** Decrypts with the key's identity; a wrong key or altered ciphertext is a BackupKeyError naming which. */
export async function decryptWith(key: BackupKey, ciphertext: Uint8Array, encryptedTo: string): Promise<Uint8Array> {
  if (key.identity === undefined) {
    throw new BackupKeyError(`${key.source} holds only a public key (${key.recipient}); decrypting needs the secret key`, 'give the file with the AGE-SECRET-KEY-1… line the backup was made with');
  }
  if (key.recipient !== encryptedTo) {
    throw new BackupKeyError(`wrong backup key: the archive was encrypted to ${encryptedTo}, ${key.source} is the key of ${key.recipient}`, 'give the key the backup was made with (--key-file or RTCOPS_BACKUP_KEY)');
  }
  const d = new Decrypter();
  d.addIdentity(key.identity.reveal());
  try {
    return await d.decrypt(ciphertext);
  } catch (err) {
    throw new BackupKeyError(`the encrypted part of the archive does not decrypt with ${key.source} (${(err as Error).message}): it was altered or damaged`, 'use an intact copy of the backup');
  }
}
