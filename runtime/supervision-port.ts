// The port between the kernel and supervision: what the kernel tells a supervisor when a
// child fails or exits, and what a supervisor may ask of the kernel. The kernel knows only
// this interface; restart policy lives in supervisors/ (the way OTP keeps supervisor.erl
// apart from gen_server.erl).

import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { AosError } from './errors/aos-error.js';
import type { MailboxOptions } from './actor-cell.js';

/** The ways a turn can fail; a supervisor may answer each differently. */
export type FailureKind = 'threw' | 'timeout' | 'worker-died' | 'output-schema';

export interface ChildFailure {
  kind: FailureKind;
  error: AosError;
  /** The message whose turn failed, and how many times it has been tried. */
  messageId: string;
  attempt: number;
  /** The chain of work the message belongs to ('' for a failed init): supervision records join it in the trace. */
  correlationId: string;
}

/** Why a child stopped on its own: it called ctx.stop() (`normal`), or was stopped from outside (`shutdown`). */
export type ExitKind = 'normal' | 'shutdown';

/** Implemented by a supervisor for each of its actor children. */
export interface ChildWatcher {
  /** The child's turn failed; the kernel has paused it until the supervisor restarts, resumes or stops it. */
  childFailed(id: string, failure: ChildFailure): void;
  /** The child stopped itself, or something other than its supervisor stopped it. */
  childExited(id: string, reason: ExitKind): void;
}

export interface ActorChildStart {
  module: string | URL;
  type: string;
  key: string;
  tasks?: string[];
  subscribe?: string[];
  config?: unknown;
  mailbox?: MailboxOptions;
  turnTimeoutMs?: number;
  /** How many times the message that made a turn fail is tried before it is dead-lettered (default 3). */
  maxAttempts?: number;
}

/** Something machines could not resolve, for a person: published as JSON on `<ns>.evt.escalation`.
 *  A root supervisor that gave up names itself; a task subject left with no instance names the subject. */
export interface EscalationEvent {
  reason: { code: string; message: string };
  supervisor?: string;
  /** The child whose failures made the supervisor give up. */
  offender?: string;
  subject?: string;
  type?: string;
}

/** What a supervisor may ask of the kernel. */
export interface SupervisionHost {
  readonly clock: Clock;
  readonly log: Logger;
  /** A supervision event for the trace (crash, restart, shutdown, give-up): the node stamps time and node. */
  record(event: Record<string, unknown>): void;
  /** Spawns an actor watched by `watcher`; resolves to its AgentId. */
  startChild(spec: ActorChildStart, watcher: ChildWatcher): Promise<string>;
  /**
   * Restarts an actor with a fresh state from `init`, after `delayMs` (its task subscriptions
   * are paused meanwhile, so peers take the work). A failed turn's message is tried again
   * unless it has used up its attempts, then it is dead-lettered. A running turn is aborted
   * and, after `shutdownMs`, its worker terminated.
   */
  restartChild(id: string, options: { delayMs: number; shutdownMs: number }): Promise<void>;
  /** Keeps the failed child's state and drops the message that failed (dead-lettered, asker answered). */
  resumeChild(id: string): void;
  /** Stops a child: its in-flight turn is aborted, then terminated after `shutdownMs`. */
  stopChild(id: string, options: { shutdownMs: number }): Promise<void>;
  escalate(event: EscalationEvent): void;
  /** Runs supervisor work the node counts as busy, so `whenIdle()` waits for restarts to finish. */
  during<T>(op: () => Promise<T>): Promise<T>;
}

/** A running supervisor, as the node and its users see it. */
export interface SupervisorHandle {
  readonly name: string;
  /** The live subtree (see supervisors/tree.ts). */
  describe(): unknown;
  /** Stops the children in reverse order. */
  stop(): Promise<void>;
  /** Pool supervisors: starts one more child from the template; resolves to its AgentId. */
  startChild(key?: string): Promise<string>;
  /** Pool supervisors: stops one child and forgets it. */
  stopChild(id: string): Promise<boolean>;
}

/** A supervisor spec the node can start (what `defineSupervisor` returns). */
export interface Supervisable {
  readonly name: string;
  start(host: SupervisionHost): Promise<SupervisorHandle>;
}
