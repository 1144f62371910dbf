/** Release ids, the release list on a host, and which releases a prune deletes. Pure. */

/** A release id: UTC time then the short git sha, so ids sort by age (`20250102T030405Z-0123abcd4567`). */
export const RELEASE_ID = /^\d{8}T\d{6}Z-[0-9a-f]{7,40}$/;

export function releaseId(at: Date, sha: string): string {
  const t = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${sha.slice(0, 12)}`;
}

/** What a release directory says about itself (.rtcops-release.json, written when it was uploaded). */
export interface ReleaseInfo {
  id: string;
  sha?: string;
  ref?: string;
  builtAt?: string;
  uploadedAt?: string;
  uploadedBy?: string;
  /** Set when a deploy of this release failed: why. */
  failed?: string;
  /** When it was first kept after its gate and watch (a rollback to it then needs no watch). */
  served?: string;
  /** Size on disk, KiB. */
  sizeKb?: number;
}

export interface HostReleases {
  releases: ReleaseInfo[];
  current: string | undefined;
  previous: string | undefined;
}

/**
 * Which releases to delete so that `keep` remain: the oldest first, never the current or the previous one
 * (the serving release and the one a rollback returns to).
 */
export function releasesToPrune(ids: string[], keep: number, protect: (string | undefined)[]): string[] {
  const sorted = [...ids].sort();
  const kept = new Set(protect.filter((p): p is string => p !== undefined));
  for (const id of sorted.reverse()) {
    if (kept.size >= keep) break;
    kept.add(id);
  }
  return ids.filter((id) => !kept.has(id)).sort();
}

/**
 * The release a rollback without --to returns to: the one `current` pointed at before the last switch, else the
 * newest older release that did not fail.
 */
export function rollbackTarget(state: HostReleases): string | undefined {
  const { current, previous, releases } = state;
  const exists = (id: string | undefined) => id !== undefined && releases.some((r) => r.id === id);
  if (previous !== current && exists(previous)) return previous;
  const older = releases.filter((r) => r.failed === undefined && r.id !== current && (current === undefined || r.id < current)).map((r) => r.id).sort();
  return older.at(-1);
}
