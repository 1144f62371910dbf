/** One problem in an inventory: where it is (a dotted path, and the line when known) and what is wrong. */
export interface InventoryIssue {
  path: string;
  message: string;
  line?: number;
}

export type PathSegment = string | number;

/** `hosts.prod.adminCidrs[1]` from ['hosts', 'prod', 'adminCidrs', 1]. */
export function formatPath(segments: readonly PathSegment[]): string {
  return segments.reduce<string>((out, s) => (typeof s === 'number' ? `${out}[${s}]` : out === '' ? s : `${out}.${s}`), '');
}

/** Every problem found in an inventory; thrown before anything renders or connects. */
export class InventoryError extends Error {
  readonly issues: readonly InventoryIssue[];

  constructor(readonly file: string, issues: readonly InventoryIssue[]) {
    super(`${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${formatIssue(file, i)}`).join('\n')}`);
    this.name = 'InventoryError';
    this.issues = issues;
  }
}

export function formatIssue(file: string, issue: InventoryIssue): string {
  const where = issue.line === undefined ? '' : `${file}:${issue.line}: `;
  return `${where}${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}
