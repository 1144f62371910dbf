import type { HostSecrets, ResolvedHost } from '../inventory/index.js';
import type { RenderResult } from '../render/files.js';
import type { Action } from './actions.js';
import type { FactRequest, Facts } from './facts.js';

export interface StepContext {
  host: ResolvedHost;
  secrets: HostSecrets;
  rendered: RenderResult;
  /** What steps' prepare() built on the operator's machine for this run (e.g. the daemon bundle). */
  prepared: Map<string, unknown>;
  /** The address this run's SSH session comes from, as the host sees it (known once connected, before facts). */
  clientIp?: string;
}

/** A step reads facts and returns only the actions needed to reach the desired state (pyinfra-style). */
export interface Step {
  name: string;
  title: string;
  /** Local work before facts are gathered (builds what plan() compares with the host); runs once per host. */
  prepare?(ctx: StepContext): Promise<void>;
  facts(ctx: StepContext): FactRequest;
  /** When this step changed something, later steps plan on freshly gathered facts (packages add files and units). */
  refreshesFacts?: boolean;
  plan(ctx: StepContext, facts: Facts): Action[];
}
