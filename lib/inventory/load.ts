import { readFileSync } from 'node:fs';
import { isAlias, isMap, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { z } from 'zod';
import { closest, didYouMean } from './checks.js';
import { crossCheck } from './cross-checks.js';
import { formatPath, InventoryError, type InventoryIssue, type PathSegment } from './errors.js';
import { resolveHost, type ResolvedHost } from './resolve.js';
import { resolveSecrets, type HostSecrets } from './secrets.js';
import { hostSettingsSchema, NAME_PATTERN, TOP_LEVEL_KEYS } from './schema.js';

export interface Inventory {
  file: string;
  hosts: Record<string, ResolvedHost>;
}

type Schema = z.ZodType;
type Plain = Record<string, unknown>;

/** Strip wrappers that only make a key optional or give it a default. */
function unwrap(schema: Schema): Schema {
  const def = schema.def as { type: string; innerType?: Schema };
  return (def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType ? unwrap(def.innerType) : schema;
}

function shapeOf(schema: Schema): Record<string, Schema> | undefined {
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, Schema>) : undefined;
}

/** An object whose keys are all plain optional (a secret reference) is kept whole, with its own messages. */
function isLeafObject(shape: Record<string, Schema>): boolean {
  return Object.values(shape).every((s) => (s.def as { type: string }).type === 'optional');
}

/**
 * The same keys and types with nothing required and no defaults: what a defaults, group or host layer
 * may hold. Defaults are applied once, after the layers merge, so a default never hides a group's value.
 */
function layerOf(schema: Schema): Schema {
  const shape = shapeOf(schema);
  if (shape === undefined || isLeafObject(shape)) return unwrap(schema).optional();
  return z.strictObject(Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, layerOf(s)]))).optional();
}

const settingsLayer = layerOf(hostSettingsSchema);
const groupsKey = z.array(z.string().min(1)).optional();
const hostLayer = z.strictObject({ ...(shapeOf(settingsLayer) ?? {}), groups: groupsKey });

/** The top level only; each layer below it is checked on its own so one bad layer hides no other problem. */
const fileSchema = z.strictObject({
  defaults: z.unknown().optional(),
  groups: z.record(NAME_PATTERN, z.unknown()).optional(),
  hosts: z.record(NAME_PATTERN, z.unknown()),
});

function childSchema(schema: Schema, segment: PathSegment): Schema | undefined {
  const inner = unwrap(schema);
  if (typeof segment === 'number') return inner instanceof z.ZodArray ? (inner.element as Schema) : undefined;
  return shapeOf(inner)?.[segment];
}

/** Keys the schema knows at a path of the file, for "did you mean". */
function knownKeys(path: readonly PathSegment[]): string[] {
  if (path.length === 0) return [...TOP_LEVEL_KEYS];
  const [top, , ...rest] = path;
  let schema: Schema | undefined = hostSettingsSchema;
  for (const segment of top === 'defaults' ? path.slice(1) : rest) schema = schema && childSchema(schema, segment);
  const keys = Object.keys((schema && shapeOf(schema)) ?? {});
  return top === 'hosts' && path.length === 2 ? [...keys, 'groups'] : keys;
}

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v);

/** zod's issues, reworded for someone editing YAML. Values of secret keys are never echoed. */
function toIssues(error: z.ZodError, prefix: PathSegment[] = []): { path: PathSegment[]; message: string }[] {
  const out: { path: PathSegment[]; message: string }[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const known = knownKeys(path);
          const hint = didYouMean(key, known) || (known.length > 0 && known.length <= 12 ? ` (known: ${known.join(', ')})` : '');
          out.push({ path: [...path, key], message: `unknown key${hint}` });
        }
        break;
      case 'invalid_type':
        out.push({ path, message: issue.input === undefined ? 'is required' : issue.message.startsWith('Invalid input') ? `expected ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : issue.expected}, got ${typeName(issue.input)}` : issue.message });
        break;
      case 'invalid_value': {
        const values = issue.values.map(String);
        const hint = typeof issue.input === 'string' ? didYouMean(issue.input, values) : '';
        out.push({ path, message: `must be one of ${values.join(', ')}${hint}` });
        break;
      }
      case 'too_small':
        out.push({ path, message: issue.message.startsWith('Too small') ? (issue.origin === 'string' ? 'must not be empty' : `must be at least ${String(issue.minimum)}`) : issue.message });
        break;
      case 'too_big':
        out.push({ path, message: issue.message.startsWith('Too big') ? `must be at most ${String(issue.maximum)}` : issue.message });
        break;
      case 'invalid_key':
        out.push({ path, message: `"${String(path.at(-1))}" is not a valid name: use lower case letters, digits and dashes` });
        break;
      case 'invalid_format':
        out.push({ path, message: issue.message.startsWith('Invalid string') ? `"${String(issue.input)}" has the wrong format` : issue.message });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later layers win; mappings merge key by key, lists and scalars are replaced whole. */
function deepMerge(...layers: unknown[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    if (!isPlain(layer)) continue;
    for (const [k, v] of Object.entries(layer)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k], v) : v;
  }
  return out;
}

/** The line of the first candidate path found in the file; exact paths first, then their parents. */
function lineOf(doc: Document, counter: LineCounter, candidates: PathSegment[][]): number | undefined {
  const longest = Math.max(...candidates.map((c) => c.length));
  for (let trim = 0; trim < longest; trim++) {
    for (const path of candidates.filter((c) => c.length - trim > 0)) {
      const node = doc.getIn(path.slice(0, path.length - trim), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return counter.linePos(node.range[0]).line;
    }
  }
  return undefined;
}

/** The document as plain data; a file whose aliases expand past yaml's limit (an alias bomb) is refused, naming its first alias. */
function plainValue(doc: Document, counter: LineCounter, file: string): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let line: number | undefined;
    visit(doc, { Alias: (_key, node) => {
      if (isAlias(node) && node.range) line = counter.linePos(node.range[0]).line;
      return visit.BREAK;
    } });
    throw new InventoryError(file, [{ path: '', line, message: 'YAML: its aliases expand to too many nodes (an alias bomb?): write the values out, or use fewer nested aliases' }]);
  }
}

/** Read, validate and resolve a whole inventory; throws InventoryError listing every problem. */
export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InventoryError(file, [{ path: '', message: `cannot read the inventory: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  return parseInventory(text, file);
}

export function parseInventory(text: string, file: string): Inventory {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later YAML errors are usually echoes of the first.
    const [first] = doc.errors;
    throw new InventoryError(file, [{ path: '', line: first && counter.linePos(first.pos[0]).line, message: `YAML: ${first?.message.split('\n')[0] ?? ''}` }]);
  }
  if (!isMap(doc.contents)) {
    const line = doc.contents?.range ? counter.linePos(doc.contents.range[0]).line : undefined;
    throw new InventoryError(file, [{ path: '', line, message: 'expected a mapping with hosts (and optionally defaults and groups)' }]);
  }

  const issues: InventoryIssue[] = [];
  const report = (path: PathSegment[], message: string, candidates: PathSegment[][] = [path]) =>
    issues.push({ path: formatPath(path), message, line: lineOf(doc, counter, candidates) });

  const raw = plainValue(doc, counter, file);
  const structure = fileSchema.safeParse(raw, { reportInput: true });
  if (!structure.success) for (const i of toIssues(structure.error)) report(i.path, i.message);

  /** A layer's own problems (unknown keys, wrong types); undefined when it has any. */
  const layer = (schema: Schema, value: unknown, at: PathSegment[]): Plain | undefined => {
    const result = schema.safeParse(value ?? {}, { reportInput: true });
    if (result.success) return (result.data ?? {}) as Plain;
    for (const i of toIssues(result.error, at)) report(i.path, i.message);
    return undefined;
  };
  const top = isPlain(raw) ? raw : {};
  const named = (value: unknown) => Object.entries(isPlain(value) ? value : {}).filter(([name]) => NAME_PATTERN.safeParse(name).success);
  const defaults = layer(settingsLayer, top.defaults, ['defaults']);
  const groups = Object.fromEntries(named(top.groups).map(([g, value]) => [g, layer(settingsLayer, value, ['groups', g])]));
  const hosts = Object.fromEntries(named(top.hosts).map(([h, value]) => [h, layer(hostLayer, value, ['hosts', h]) as (Plain & { groups?: string[] }) | undefined]));
  const resolved: Record<string, ResolvedHost> = {};
  if (isPlain(top.hosts) && Object.keys(top.hosts).length === 0) report(['hosts'], 'lists no host');

  for (const [name, entry] of Object.entries(hosts)) {
    if (entry === undefined) continue;
    const { groups: memberOf = [], ...own } = entry;
    const unknown = memberOf.map((g, i) => [g, i] as const).filter(([g]) => !(g in groups));
    for (const [g, i] of unknown) report(['hosts', name, 'groups', i], `unknown group "${g}"${didYouMean(g, Object.keys(groups))}`);
    // A host built on a broken layer would only repeat that layer's problems.
    if (unknown.length > 0 || defaults === undefined || memberOf.some((g) => groups[g] === undefined)) continue;

    const merged = deepMerge(defaults, ...memberOf.map((g) => groups[g]), own);
    // Where a merged value may have come from, most specific first.
    const sources = (path: PathSegment[]) => [['hosts', name, ...path], ...memberOf.map((g) => ['groups', g, ...path]).reverse(), ['defaults', ...path]];
    const settings = hostSettingsSchema.safeParse(merged, { reportInput: true });
    if (!settings.success) {
      for (const i of toIssues(settings.error)) report(['hosts', name, ...i.path], i.message, sources(i.path));
      continue;
    }
    const host = resolveHost(name, memberOf, settings.data, file);
    const problems = crossCheck(host);
    for (const p of problems) report(['hosts', name, ...p.path], p.message, sources(p.path));
    if (problems.length === 0) resolved[name] = host;
  }
  if (issues.length > 0) throw new InventoryError(file, issues);
  return { file, hosts: resolved };
}

/**
 * What every command needs before it touches a host: the validated inventory, the named host, and its
 * secrets. Throws InventoryError (every problem, with paths) before anything connects.
 */
export function loadHost(file: string, name: string, env: Record<string, string | undefined> = process.env): { inventory: Inventory; host: ResolvedHost; secrets: HostSecrets } {
  const inventory = loadInventory(file);
  const host = selectHost(inventory, name);
  return { inventory, host, secrets: resolveSecrets(host, inventory.file, env) };
}

/** The named host, or an error that lists the hosts there are. */
export function selectHost(inventory: Inventory, name: string): ResolvedHost {
  const host = inventory.hosts[name];
  if (host !== undefined) return host;
  const names = Object.keys(inventory.hosts);
  const suggestion = closest(name, names);
  throw new InventoryError(inventory.file, [
    { path: 'hosts', message: `no host "${name}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; hosts: ${names.join(', ')}` },
  ]);
}
