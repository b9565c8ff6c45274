// The wire contract between the kernel thread and the worker threads: the one place where
// types shared by both sides live (the exception to "types live beside their code").
// Everything here is structured-cloned across the thread boundary; payloads are bytes the
// worker decodes, so actor values never need to be parsed on the kernel thread.

import type { EnvelopeKind, PayloadFormat } from './envelope.js';
import type { WireError } from './errors/aos-error.js';

/** One message, as a turn sees it. */
export interface TurnMessage {
  id: string;
  kind: EnvelopeKind;
  from: string;
  /** The subject it arrived on (tasks and events); the actor's own subject for direct messages. */
  subject: string;
  correlationId: string;
  causationId: string | null;
  format: PayloadFormat;
  payload: Uint8Array;
  /** True when the sender waits for a reply (the kernel owns the reply subject). */
  expectsReply: boolean;
  attempt: number;
  deadline?: number;
}

/** The turns for one actor inside a batch: run `init` first when asked, then each message in order. */
export interface ActorTurns {
  /** The kernel's handle on the actor for this batch. */
  slot: number;
  self: string;
  module: string;
  /** msgpack-encoded state; null before init. */
  state: Uint8Array | null;
  init: boolean;
  /** The spawn `config` (msgpack), sent with init only. */
  config?: Uint8Array;
  messages: TurnMessage[];
  /** The policy version the kernel decides this actor's actions with (the worker checks with its copy). */
  policy: string;
  /** Actions the actor may take before its rate limit refuses (Infinity: no limit). */
  allowance: number;
  /** What is left of each budget of its role, in the role's order (absent: no budgets). */
  budgetsLeft?: number[];
}

export interface BatchTask {
  kind: 'batch';
  batchId: number;
  actors: ActorTurns[];
  /** Turn progress shared with the kernel while the batch runs (and after its worker died): an
   *  Int32Array holding the worker's threadId, then for each slot [turns started, turns
   *  finished, cancelled] (init counts as a turn). See `progressBuffer` and `runningTurns`. */
  progress: SharedArrayBuffer;
}

const PER_SLOT = 3;

export function progressBuffer(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (1 + PER_SLOT * slots));
}

/** The worker running a batch (0 until it starts). */
export function progressThread(progress: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(progress), 0);
}

export const startedIndex = (slot: number): number => 1 + PER_SLOT * slot;
export const finishedIndex = (slot: number): number => 2 + PER_SLOT * slot;
/** Set by the kernel when an actor stops or restarts mid-batch: the worker starts no more of its turns. */
export const cancelledIndex = (slot: number): number => 3 + PER_SLOT * slot;

/** True while one of the slot's turns runs. */
export function slotRunning(progress: SharedArrayBuffer, slot: number): boolean {
  const view = new Int32Array(progress);
  return Atomics.load(view, startedIndex(slot)) > Atomics.load(view, finishedIndex(slot));
}

/** For each slot: how many turns have started, and whether one is running now. */
export function runningTurns(progress: SharedArrayBuffer, slots: number): { started: number; running: boolean }[] {
  const view = new Int32Array(progress);
  const out: { started: number; running: boolean }[] = [];
  for (let i = 0; i < slots; i++) {
    const started = Atomics.load(view, startedIndex(i));
    out.push({ started, running: started > Atomics.load(view, finishedIndex(i)) });
  }
  return out;
}

export type WorkerTask = BatchTask;

export type Intent =
  | { t: 'tell'; to: string; payload: Uint8Array }
  | { t: 'publish'; subject: string; payload: Uint8Array }
  | { t: 'spawn'; module: string; type: string; key: string; tasks: string[] }
  | { t: 'stop'; id: string }
  /** A publish or tell that an approval rule holds: stored as request `id` when the turn commits. */
  | { t: 'held'; id: string; action: 'publish' | 'tell'; target: string; payload: Uint8Array };

/** An action the worker refused at the call site (ERR_DENIED raised in the handler); the kernel records it. */
export interface Refused {
  action: 'publish' | 'subscribe' | 'tell' | 'ask' | 'call' | 'spawn' | 'stop';
  target: string;
  reason: string;
  /** The worker's view of the rule (kept in the record only where the kernel's own checks agree it could be so). */
  rule?: string;
}

/** When a turn ran (epoch ms, fractional) and for how long: the trace's `turn.started` and `turn.finished`. */
export interface TurnTiming {
  startedAt?: number;
  ms?: number;
}

export type TurnOutcome =
  | ({
      ok: true;
      reply?: { format: PayloadFormat; payload: Uint8Array };
      intents: Intent[];
      refused?: Refused[];
      /** The handler let ERR_APPROVAL_PENDING escape: its effects commit, and an asker gets this error as the answer. */
      pending?: WireError;
    } & TurnTiming)
  | ({ ok: false; error: WireError; refused?: Refused[] } & TurnTiming);

export interface ActorResult {
  slot: number;
  /** State after the last successful turn (unchanged if none succeeded). */
  state: Uint8Array | null;
  /** Outcome of init, when it ran. */
  init?: TurnOutcome;
  /** One outcome per message handled, in order. A failure ends the list: later messages were not run. */
  outcomes: TurnOutcome[];
}

export interface BatchResult {
  batchId: number;
  /** The actors' results not already sent early (a single-actor batch sends none early). */
  actors: ActorResult[];
}


/** Messages a worker sends to the kernel while a turn runs (over its own MessagePort). */
export type WorkerToKernel =
  | { t: 'hello'; threadId: number }
  /** Sent on parentPort by runtime/worker/memory-watch.ts: this worker's memory outside the heap is over its limit. */
  | { t: 'memory'; threadId: number; externalBytes: number; limit: number }
  /** A cancelled actor's share of a batch has ended: it runs no turn in this worker any more. */
  | { t: 'quiet'; self: string }
  /** One actor's share of a multi-actor batch, sent as soon as it ends (no waiting for slower actors). */
  | { t: 'result'; batchId: number; result: ActorResult }
  | { t: 'ask'; reqId: number; self: string; to: string; payload: Uint8Array; timeoutMs: number; correlationId: string; causationId: string | null }
  /** A tool call: the kernel checks the grant, validates the arguments and runs the tool. */
  | { t: 'call'; reqId: number; self: string; tool: string; args: Uint8Array; timeoutMs: number; correlationId: string; causationId: string | null }
  /** Units the actor spent (model tokens, cost), counted against its budgets. */
  | { t: 'report'; self: string; unit: string; amount: number }
  /** ctx.requestApproval: the kernel stores the request and answers (askResult) with `{id}` as msgpack. */
  | { t: 'approval'; reqId: number; self: string; kind: 'call' | 'publish' | 'tell' | 'custom'; target: string; args: Uint8Array; reason: string; correlationId: string; causationId: string | null };

/** Messages the kernel sends to a worker. */
export type KernelToWorker =
  /** The modules a new worker loads before it takes work (so a replacement worker starts warm). */
  | { t: 'preload'; modules: string[] }
  /** The policy in force (sent at start and on every change): workers check intents at the call site with it. */
  | { t: 'policy'; namespace: string; version: string; doc: unknown }
  | { t: 'askResult'; reqId: number; ok: true; format: PayloadFormat; payload: Uint8Array }
  | { t: 'askResult'; reqId: number; ok: false; error: WireError }
  | { t: 'abort'; self: string; reason: WireError };

/** Passed to every worker as piscina's workerData. */
export interface WorkerConfig {
  logLevel: string;
  logTo: 'stdout' | 'stderr';
  nodeId: string;
  maxMessageBytes: number;
  /** The worker reports itself to the kernel when its memory outside the V8 heap exceeds this (0: off). */
  maxExternalBytes: number;
}
