// Runs one actor's share of a batch: init when asked, then each message in order, one at a
// time. A turn is transactional: only a turn that returns contributes its state, reply and
// intents. Bad input fails that message alone; a handler failure ends the actor's share
// (the kernel puts the messages it did not reach back in the mailbox and decides what next).

import type { Logger } from 'pino';
import { compact, decodeValue, encodeValue } from '../envelope.js';
import { aosError, toAosError } from '../errors/aos-error.js';
import type { ActorDefinition } from '../define-actor.js';
import { cancelledIndex, finishedIndex, startedIndex, type ActorResult, type ActorTurns, type TurnMessage, type TurnOutcome } from '../wire.js';
import type { KernelChannel } from './kernel-channel.js';
import { TurnContext } from './turn-context.js';
import { TurnGuard, type Allowance } from './turn-guard.js';
import { newCorrelationId } from '../ids.js';
import type { ApprovalOutcome } from '../approvals/approval-types.js';

export interface RunEnv {
  channel: KernelChannel;
  log: Logger;
  maxMessageBytes: number;
}

/** Where this actor's turn counters live in the batch's shared progress array. */
export interface Progress {
  view: Int32Array;
  slot: number;
}

function failure(err: unknown, fallback: 'ERR_HANDLER_FAILED' | 'ERR_INTERNAL', actorId: string): TurnOutcome {
  const e = toAosError(err, fallback, { actorId });
  return { ok: false, error: e.toWire(true) };
}

function checkState(def: ActorDefinition, state: unknown, self: string): Uint8Array {
  if (def.state !== undefined) {
    const r = def.state.safeParse(state);
    if (!r.success) {
      throw aosError('ERR_OUTPUT_SCHEMA', `${self} returned a state that breaks its state schema`, {
        actorId: self,
        issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
      });
    }
  }
  try {
    return compact(encodeValue(state, 'msgpack'));
  } catch (err) {
    throw aosError('ERR_ENCODE', `${self} returned a state that cannot be encoded`, { actorId: self }, err);
  }
}

async function turn(
  def: ActorDefinition,
  actor: ActorTurns,
  env: RunEnv,
  message: TurnMessage | null,
  progress: Progress,
  allowance: Allowance,
  body: (ctx: TurnContext) => Promise<unknown>,
  /** The state before this turn: kept when the handler lets ERR_APPROVAL_PENDING escape. */
  previous?: { value: unknown },
): Promise<{ outcome: TurnOutcome; state?: { value: unknown; bytes: Uint8Array } } | null> {
  // Counted as started before the check, so a kernel that cancels and then sees no turn
  // running knows none will start (sequentially consistent atomics).
  Atomics.add(progress.view, startedIndex(progress.slot), 1);
  if (Atomics.load(progress.view, cancelledIndex(progress.slot)) !== 0) {
    Atomics.add(progress.view, finishedIndex(progress.slot), 1);
    return null;
  }
  const correlationId = message?.correlationId ?? newCorrelationId();
  const t0 = performance.now();
  const guard = new TurnGuard(env.channel.policy, actor.self, allowance);
  const ctx = new TurnContext({
    config: message === null ? actor.config : undefined,
    guard,
    actorSubject: (id) => env.channel.policy.actorSubject(id),
    self: actor.self,
    module: actor.module,
    def,
    message,
    correlationId,
    channel: env.channel,
    log: env.log,
    maxMessageBytes: env.maxMessageBytes,
  });
  try {
    // An abort from the kernel (stop, turn time limit) ends the turn even if the handler
    // ignores its signal; whatever the handler still does later is discarded.
    const next = await Promise.race([body(ctx), ctx.aborted]);
    const bytes = checkState(def, next, actor.self);
    const outcome: TurnOutcome = { ok: true, intents: ctx.intents };
    if (ctx.replyValue !== undefined) outcome.reply = ctx.replyValue;
    if (guard.refused.length > 0) outcome.refused = guard.refused;
    timed(outcome, t0);
    return { outcome, state: { value: next, bytes } };
  } catch (err) {
    // An action held for a person, not handled: the turn still counts (its other effects and the
    // held request commit, the state stays as it was), and an asker learns of the request.
    if (previous !== undefined && (err as { code?: unknown })?.code === 'ERR_APPROVAL_PENDING') {
      const outcome: TurnOutcome = { ok: true, intents: ctx.intents, pending: toAosError(err).toWire() };
      if (ctx.replyValue !== undefined) outcome.reply = ctx.replyValue;
      if (guard.refused.length > 0) outcome.refused = guard.refused;
      timed(outcome, t0);
      return { outcome, state: { value: previous.value, bytes: checkState(def, previous.value, actor.self) } };
    }
    const outcome = failure(err, 'ERR_HANDLER_FAILED', actor.self);
    if (guard.refused.length > 0) outcome.refused = guard.refused;
    timed(outcome, t0);
    return { outcome };
  } finally {
    ctx.close();
    Atomics.add(progress.view, finishedIndex(progress.slot), 1);
  }
}

/** Stamps when the turn ran, for the kernel's trace of it. */
function timed(outcome: TurnOutcome, t0: number): void {
  outcome.startedAt = performance.timeOrigin + t0;
  outcome.ms = performance.now() - t0;
}

/** The outcome of an approval request, sent by a node (a sealed `approval` envelope: no schema of the actor's applies). */
function approvalOutcome(msg: TurnMessage, self: string): { ok: true; value: unknown } | { ok: false; outcome: TurnOutcome } {
  try {
    return { ok: true, value: decodeValue(msg.payload, msg.format) };
  } catch (err) {
    return { ok: false, outcome: failure(err, 'ERR_INTERNAL', self) };
  }
}

/** Decodes and validates a message; returns the parsed input or an input-error outcome. */
function parseInput(def: ActorDefinition, msg: TurnMessage, self: string): { ok: true; value: unknown } | { ok: false; outcome: TurnOutcome } {
  let value: unknown;
  try {
    value = def.rawInput === true ? { format: msg.format, bytes: msg.payload } : decodeValue(msg.payload, msg.format);
  } catch (err) {
    return { ok: false, outcome: failure(err, 'ERR_INTERNAL', self) };
  }
  const r = def.input.safeParse(value);
  if (!r.success) {
    const e = aosError('ERR_INPUT_SCHEMA', `message ${msg.id} to ${self} fails its input schema`, {
      actorId: self,
      messageId: msg.id,
      issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
    });
    return { ok: false, outcome: { ok: false, error: e.toWire() } };
  }
  return { ok: true, value: r.data };
}

export async function runActor(def: ActorDefinition, actor: ActorTurns, env: RunEnv, progress: Progress): Promise<ActorResult> {
  const result: ActorResult = { slot: actor.slot, state: actor.state, outcomes: [] };
  // The rate allowance and budgets are the actor's, shared by its turns in this batch.
  const allowance: Allowance = { tokens: actor.allowance, budgets: actor.budgetsLeft?.slice() };
  let state: unknown;
  if (actor.init) {
    const r = await turn(def, actor, env, null, progress, allowance, async (ctx) => def.init(ctx));
    if (r === null) return result;
    result.init = r.outcome;
    if (!r.outcome.ok) return result;
    result.state = r.state!.bytes;
    state = r.state!.value;
  } else {
    state = actor.state === null ? undefined : decodeValue(actor.state, 'msgpack');
  }
  for (const msg of actor.messages) {
    const input = msg.kind === 'approval' ? approvalOutcome(msg, actor.self) : parseInput(def, msg, actor.self);
    if (!input.ok) {
      result.outcomes.push(input.outcome);
      continue;
    }
    const current = state;
    const handler =
      msg.kind !== 'approval'
        ? async (ctx: TurnContext) => def.handle(current, input.value, ctx)
        : async (ctx: TurnContext) => {
            if (def.onApproval !== undefined) return def.onApproval(current, input.value as ApprovalOutcome, ctx);
            ctx.log.info({ outcome: input.value }, 'an approval outcome arrived and the actor has no onApproval: kept on the request, nothing else done');
            return current;
          };
    const r = await turn(def, actor, env, msg, progress, allowance, handler, { value: current });
    if (r === null) break; // cancelled: the kernel gets the rest back as not reached
    result.outcomes.push(r.outcome);
    if (!r.outcome.ok) break;
    // The encoded state is the turn's snapshot; the object itself goes on to the next turn.
    // (A turn that fails ends the share, so a state it mutated in place is never used: the
    // kernel keeps the last snapshot.)
    result.state = r.state!.bytes;
    state = r.state!.value;
  }
  return result;
}
