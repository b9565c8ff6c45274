// The actor definition: what a user module default-exports. It is plain data plus
// functions; the kernel never runs it, only the worker threads do (worker/entry.ts).

import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ApprovalOutcome } from './approvals/approval-types.js';
import { aosError } from './errors/aos-error.js';

export interface AskOptions {
  /** How long to wait for the reply (default 30 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  /** How long to wait for the tool (default 60 s); past it the tool's signal aborts. */
  timeoutMs?: number;
}

/** What an actor asks a person to approve (ctx.requestApproval). The kernel performs a `call`, `publish` or `tell` once, if approved. */
export interface ApprovalRequest {
  /** The action: a tool call, a message, or `{ custom: name }` for something only the actor does (then the decision is all it gets). */
  action: { call: string; args?: unknown } | { publish: string; value?: unknown } | { tell: string; value?: unknown } | { custom: string; args?: unknown };
  /** What the person reads: why the actor asks. */
  reason: string;
}

export interface SpawnOptions {
  type: string;
  key: string;
  /** Task subjects to serve as part of the type's queue group, e.g. `aos.task.echo`. */
  tasks?: string[];
  /** Other subjects or patterns to serve in the type's queue group (full NATS subjects, e.g. `aos.trace.>` for the tracer), by grant. */
  subscribe?: string[];
  /** A value (msgpack-encodable) handed to `init` as `ctx.config`, at spawn and at every restart. */
  config?: unknown;
}

/** What a handler may do. Every effect is an intent the kernel checks; tells, publishes,
 *  replies, spawns and stops are committed only when the turn returns. */
export interface ActorContext {
  /** This actor's AgentId (`type/key`). */
  readonly self: string;
  /** The sender of the current message: an AgentId, `system/<node>`, or `external`. */
  readonly from: string;
  /** Id of the current message (null in `init`). */
  readonly messageId: string | null;
  /** The chain of work this turn belongs to. */
  readonly correlationId: string;
  /** The message that caused the current one (null at the root of a chain). */
  readonly causationId: string | null;
  /** In `init`: the `config` the actor was spawned with (undefined in `handle`: keep what you need in the state). */
  readonly config: unknown;
  /** The subject the current message arrived on. */
  readonly subject: string | null;
  /** Aborted when the actor is stopped or the turn is abandoned: pass it to fetch, LLM clients... */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Answers the current message; a no-op when the sender did not ask. At most once per message,
   *  always to the kernel-owned reply subject of the message being handled. */
  reply(value: unknown): void;
  tell(to: string, value: unknown): void;
  publish(subject: string, value: unknown): void;
  /** Asks another actor and waits for its reply; performed (and checked) when called. */
  ask<R = unknown>(to: string, value: unknown, options?: AskOptions): Promise<R>;
  /** Calls a tool the node registered (`system.registerTool`), if the actor's role is granted it. Arguments and result are validated by the tool's schemas. */
  call<R = unknown>(tool: string, args: unknown, options?: CallOptions): Promise<R>;
  /**
   * Asks a person to approve an action (stored durably; the policy's chain decides who, and for
   * how long). Resolves with the request's id as soon as it is stored: the turn does not wait.
   * The outcome arrives later as a message to `onApproval`. An action the role may not take at
   * all is ERR_DENIED; an approval never widens a role's grants.
   */
  requestApproval(request: ApprovalRequest): Promise<{ approvalId: string }>;
  /** Reports units spent (model tokens, cost...), counted against the actor's budgets. */
  report(unit: string, amount: number): void;
  /** Spawns an actor when the turn commits; a relative module path resolves against this actor's module. Returns its AgentId. */
  spawn(module: string, options: SpawnOptions): string;
  /** Stops an actor (itself when no id is given) when the turn commits. */
  stop(id?: string): void;
}

/** What an actor defined with `rawInput: true` is given to check: a message's bytes, undecoded. */
export interface RawInput {
  format: 'json' | 'msgpack';
  /** Read-only: a large message's bytes are shared with the kernel, not copied (never write to them). */
  readonly bytes: Uint8Array;
}

export interface ActorDefinition<I = unknown, S = unknown> {
  readonly input: z.ZodType<I>;
  /** The input schema gets each message as its bytes (RawInput), not decoded: for an actor that stores messages as they came (the tracer). */
  readonly rawInput?: boolean;
  /** Optional schema for the state the handler returns (checked after every turn). */
  readonly state?: z.ZodType<S>;
  /** Optional schema for replies. */
  readonly output?: z.ZodType;
  init(ctx: ActorContext): S | Promise<S>;
  handle(state: S, message: I, ctx: ActorContext): S | Promise<S>;
  /** The outcome of one of this actor's approval requests (executed, denied, expired, failed). Without it, outcomes are logged and kept on the request. */
  onApproval?(state: S, outcome: ApprovalOutcome, ctx: ActorContext): S | Promise<S>;
}

const ACTOR_MARK = Symbol.for('autonomy-os.actor-definition');

export interface ActorSpec<I, S> {
  input: z.ZodType<I>;
  rawInput?: boolean;
  state?: z.ZodType<S>;
  output?: z.ZodType;
  init: (ctx: ActorContext) => S | Promise<S>;
  handle: (state: S, message: I, ctx: ActorContext) => S | Promise<S>;
  onApproval?: (state: S, outcome: ApprovalOutcome, ctx: ActorContext) => S | Promise<S>;
}

/** Defines an actor. The module that calls it must default-export the result. */
export function defineActor<I, S>(spec: ActorSpec<I, S>): ActorDefinition<I, S> {
  if (spec === null || typeof spec !== 'object') throw aosError('ERR_ACTOR_MODULE', 'defineActor expects an object');
  if (spec.input === undefined || typeof (spec.input as { safeParse?: unknown }).safeParse !== 'function') {
    throw aosError('ERR_ACTOR_MODULE', 'defineActor: `input` must be a zod schema');
  }
  if (typeof spec.init !== 'function') throw aosError('ERR_ACTOR_MODULE', 'defineActor: `init` must be a function');
  if (typeof spec.handle !== 'function') throw aosError('ERR_ACTOR_MODULE', 'defineActor: `handle` must be a function');
  if (spec.onApproval !== undefined && typeof spec.onApproval !== 'function') throw aosError('ERR_ACTOR_MODULE', 'defineActor: `onApproval` must be a function');
  const def = { ...spec };
  Object.defineProperty(def, ACTOR_MARK, { value: true });
  return Object.freeze(def) as ActorDefinition<I, S>;
}

export function isActorDefinition(value: unknown): value is ActorDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ACTOR_MARK] === true;
}
