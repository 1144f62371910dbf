import type { Artifact } from './artifacts.js';

/** A run action that prints this line changed nothing (e.g. a refresh that found no upgrades). */
export const UNCHANGED = 'RTCOPS_UNCHANGED';

/** What a step asks the engine to do. Steps only return the actions the facts say are needed. */
export type Action = RunAction | FileAction | LinkAction | UploadAction;

export interface RunAction {
  kind: 'run';
  /** One line for the operator: what changes. */
  summary: string;
  script: string;
  /** Handlers to run once, at the end, when this action ran. */
  notify?: string[];
  /** Behind the lockout guard (lockout-guard.ts): `prepare` saves what `revert` puts back. */
  guard?: 'ssh-access';
  prepare?: string;
  revert?: string;
  /** Names the guard's revert timer (rtcops-revert-<unit>). */
  revertUnit?: string;
  /** What --diff shows for this change (a run action has no file to diff). */
  diff?: string;
}

export interface FileAction {
  kind: 'file';
  summary: string;
  path: string;
  content: string;
  mode: string;
  owner: string;
  group: string;
  /** Never print the content or a diff of it. */
  secret: boolean;
  /** Shell run on the host after the new file is in place; non-zero puts the old file back. */
  validate?: string;
  notify?: string[];
  guard?: 'ssh-access';
  /** Content currently on the host, when known (for --diff); undefined when absent or secret. */
  previous?: string;
}

export interface LinkAction {
  kind: 'link';
  summary: string;
  path: string;
  target: string;
  validate?: string;
  notify?: string[];
}

/** Uploads a file built on the operator's machine (artifacts.ts), checks its SHA-256 on the host, then runs `script`. */
export interface UploadAction {
  kind: 'upload';
  summary: string;
  /** Builds the file, or finds it in the local cache; called only when the action runs. */
  artifact: () => Promise<Artifact>;
  /** Runs as root with $ARTIFACT naming the uploaded, verified file (removed afterwards). */
  script: string;
  notify?: string[];
}
