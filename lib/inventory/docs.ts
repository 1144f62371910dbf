import { z } from 'zod';
import { hostSettingsSchema } from './schema.js';

/** docs/inventory.md, generated from the schema's descriptions and defaults so the reference cannot drift. */

type Schema = z.ZodType;
interface Def {
  type: string;
  innerType?: Schema;
  defaultValue?: unknown;
  element?: Schema;
  entries?: Record<string, string>;
}

const defOf = (s: Schema) => s.def as unknown as Def;

interface Row {
  key: string;
  type: string;
  presence: string;
  description: string;
}

/** Peel optional/default wrappers, remembering what they say about presence. */
function peel(schema: Schema): { inner: Schema; presence: string } {
  let inner = schema;
  let presence = '**required**';
  for (;;) {
    const def = defOf(inner);
    if (def.type === 'default' && def.innerType) {
      presence = `\`${JSON.stringify(def.defaultValue)}\``;
      inner = def.innerType;
    } else if ((def.type === 'optional' || def.type === 'prefault') && def.innerType) {
      if (presence === '**required**') presence = def.type === 'optional' ? 'optional' : 'defaults below';
      inner = def.innerType;
    } else {
      return { inner, presence };
    }
  }
}

function typeName(schema: Schema): string {
  const def = defOf(schema);
  if (def.type === 'enum') return Object.values(def.entries ?? {}).map((v) => `\`${v}\``).join(' | ');
  if (def.type === 'array' && def.element) return `list of ${typeName(peel(def.element).inner)}`;
  if (def.type === 'object') return isSecretRef(schema) ? 'secret reference' : 'mapping';
  return def.type;
}

function isSecretRef(schema: Schema): boolean {
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, Schema>) : {};
  return Object.keys(shape).join() === 'env,key';
}

function rows(schema: Schema, prefix: string): Row[] {
  const out: Row[] = [];
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, Schema>) : {};
  for (const [key, child] of Object.entries(shape)) {
    const { inner, presence } = peel(child);
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push({ key: path, type: typeName(inner), presence, description: child.description ?? inner.description ?? '' });
    if (inner instanceof z.ZodObject && !isSecretRef(inner)) out.push(...rows(inner, path));
    const element = defOf(inner).element;
    if (defOf(inner).type === 'array' && element && peel(element).inner instanceof z.ZodObject) out.push(...rows(peel(element).inner, `${path}[]`));
  }
  return out;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function inventoryReference(): string {
  const lines = [
    '# inventory.yaml reference',
    '',
    '<!-- Generated from lib/inventory/schema.ts: do not edit. Regenerate with UPDATE_DOCS=1 npm run test:unit. -->',
    '',
    'An inventory has three top-level keys:',
    '',
    '- `hosts` (**required**): each host by name (lower case letters, digits, dashes). A host may list `groups: [a, b]`.',
    '- `groups` (optional): settings shared by the hosts that list the group.',
    '- `defaults` (optional): settings for every host.',
    '',
    'Each of `defaults`, a group and a host holds any of the settings below. They merge defaults < groups (in the order',
    'the host lists them) < host: mappings merge key by key, lists and values are replaced whole. After merging, every',
    'host must have the required settings. Unknown keys are errors. Paths may start with `~/` (the operator\'s home) or be',
    'relative to the inventory file.',
    '',
    'Secret values are never written in the inventory. A secret reference names where the value comes from:',
    '`{ env: VARIABLE }` (an environment variable on the operator machine) or `{ key: name }` (a key of `secrets.file`,',
    'a YAML file that must be mode 0600 and git-ignored). A missing secret is an error naming the variable, before',
    'anything connects.',
    '',
    'The repository\'s `inventory.yaml` is a working example: the local `sandbox` host and a commented `prod` host.',
    'Check an inventory and see what it renders with `npx zx scripts/render.mjs <host> [--out DIR]`.',
    '',
    '| Key | Type | Default | Description |',
    '|---|---|---|---|',
  ];
  for (const row of rows(hostSettingsSchema, '')) {
    lines.push(`| \`${row.key}\` | ${cell(row.type)} | ${cell(row.presence)} | ${cell(row.description)} |`);
  }
  lines.push('', 'Cross-field checks: port ranges have min < max; no two of ssh.port, 80, 443, app.port, app.slotBPort, the TURN ports, the');
  lines.push('relay range, the media ports of both deploy slots and nodeExporter.port overlap on one protocol; exactly one host-key pin; `sshd.allowUsers` includes');
  lines.push('`ssh.user`; `pm2.killTimeoutMs` exceeds `app.drainTimeoutMs`; `firewall.extraRules` do not open the SSH port; the');
  lines.push('firewall plan always has an SSH rule from `adminCidrs`.', '');
  return lines.join('\n');
}
