// Supervisor specs, in OTP's words: a strategy, a restart intensity, and children that start
// in order and stop in reverse. A child is an actor or another supervisor (nestable to any
// depth); a `pool` supervisor holds any number of children made from one template, grown and
// shrunk at run time (OTP's simple_one_for_one).

import type { ActorChildStart, Supervisable } from '../runtime/supervision-port.js';
import type { Backoff } from './backoff.js';
import type { Intensity } from './intensity.js';
import type { Directive, Directives, FailureKind, RestartType } from './restart-decision.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

export interface ActorChildSpec extends ActorChildStart {
  /** permanent (default): always restarted; transient: only after a failure; temporary: never. */
  restart?: RestartType;
  /** How long a stopping child's turn may run before its worker is terminated (default 5 s). */
  shutdownMs?: number;
  /** What to do for each kind of failure (default: restart for all). */
  directives?: Partial<Record<FailureKind, Directive>>;
}

export interface SupervisorSpecInput {
  /** Shown in the tree, logs and escalations (default `supervisor-<n>`). */
  name?: string;
  strategy?: Strategy;
  intensity?: Partial<Intensity>;
  /** Delay between restarts (default none, as in OTP): exponential with jitter, reset after a quiet period. */
  backoff?: Partial<Backoff>;
  children?: (ActorChildSpec | SupervisorSpec)[];
  /** A dynamic pool instead of fixed children: instances of one template, `size` of them at start. */
  pool?: { template: Omit<ActorChildSpec, 'key'>; size?: number };
  /** How this supervisor is restarted by its parent (default permanent). */
  restart?: RestartType;
}

export interface ResolvedActorChild extends ActorChildSpec {
  restart: RestartType;
  shutdownMs: number;
  directives: Directives;
}

export interface SupervisorSpec extends Supervisable {
  readonly kind: 'supervisor';
  readonly name: string;
  readonly strategy: Strategy;
  readonly intensity: Intensity;
  readonly backoff: Backoff;
  readonly children: readonly (ResolvedActorChild | SupervisorSpec)[];
  readonly pool: { template: ResolvedActorChild & { key: string }; size: number } | undefined;
  readonly restart: RestartType;
}

export const DEFAULT_SHUTDOWN_MS = 5_000;

export function isSupervisorSpec(value: unknown): value is SupervisorSpec {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'supervisor';
}
