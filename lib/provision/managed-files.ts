import { createHash } from 'node:crypto';
import type { RenderedFile } from '../render/files.js';
import type { Action, FileAction } from './actions.js';
import type { Facts } from './facts.js';

// How each file is checked on the host and what reloads after it comes from its row in lib/render/files.ts.

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A file action when the host's copy differs in content, mode or ownership; none when it matches. */
export function fileAction(file: RenderedFile, facts: Facts): FileAction | undefined {
  const f = facts.files.get(file.path);
  const mode = file.mode.padStart(4, '0');
  if (f?.exists === true && f.sha256 === sha256(file.content) && f.mode === mode && f.owner === file.owner && f.group === file.group) return undefined;
  const what = f?.exists !== true ? 'create' : f.sha256 !== sha256(file.content) ? 'update' : 'fix mode/owner of';
  return {
    kind: 'file', summary: `${what} ${file.path}`, path: file.path, content: file.content, mode, owner: file.owner, group: file.group, secret: file.secret,
    ...(file.validate !== undefined ? { validate: file.validate } : {}),
    ...(file.notify !== undefined ? { notify: file.notify } : {}),
  };
}

export function fileActions(files: RenderedFile[], facts: Facts): Action[] {
  return files.flatMap((f) => fileAction(f, facts) ?? []);
}
