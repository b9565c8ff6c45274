// Turns a NATS message into a Delivery. A node's message is a kernel-stamped envelope;
// anything else is from `external`, whatever identity its headers claim (those claims are
// reported, never trusted). Only the envelope is parsed here: the payload stays bytes
// until a worker decodes it, so actor data is never parsed on the kernel thread.

import { Match, type Msg } from 'nats';
import type { Delivery } from './actor-cell.js';
import { EXTERNAL, tokenProblem } from './address.js';
import { CONTENT_TYPE_HEADER, CT_ENVELOPE, decodeEnvelope, envelopeSealed, formatOfContentType, SHARED_PAYLOAD_BYTES, type Envelope, type EnvelopeKind } from './envelope.js';
import { aosError, type AosError } from './errors/aos-error.js';
import { newCorrelationId, newMessageId, parseTraceparent } from './ids.js';

/** Headers that claim an identity: from outside the runtime, any claim but `external` is a spoof attempt (denied). */
export const IDENTITY_HEADERS = ['aos-from', 'aos-role', 'aos-owner'] as const;
/** Headers that try to set kernel-stamped fields; ignored and reported. */
export const KERNEL_HEADERS = ['aos-id', 'aos-correlation-id', 'aos-causation-id'] as const;
/** The name an outside client gives itself (NATS does not pass its CONNECT name to subscribers). */
export const CLIENT_HEADER = 'aos-client';

export interface InboundContext {
  /** The AgentId (direct subjects) or subject (tasks) the message was addressed to. */
  to: string;
  kind: EnvelopeKind;
  now: number;
  maxMessageBytes: number;
  /** The cluster key: an envelope not sealed with it is a forgery. */
  key: Uint8Array;
  /** False when this receiver has already taken an envelope with this id (a replay). */
  firstSeen: (envelopeId: string) => boolean;
}

export class InboundError {
  constructor(
    readonly error: AosError,
    /** What could be read of the message, for the dead letter. */
    readonly env: Envelope | undefined,
  ) {}
}

export interface Parsed {
  delivery: Delivery;
  /** Kernel headers an outside client sent (ignored); empty when none. */
  claimed: string[];
}

/** Raised for a message that claims an identity it does not have. */
export class SpoofError extends InboundError {
  constructor(
    error: AosError,
    env: Envelope | undefined,
    /** The identity claimed. */
    readonly claimed: string,
  ) {
    super(error, env);
  }
}

const SPOOF_RULES = {
  'unsealed envelope': 'builtin:sealed-envelope',
  'misdirected envelope': 'builtin:envelope-target',
  'replayed envelope': 'builtin:envelope-replay',
  'identity header': 'builtin:identity-headers',
} as const;

function spoof(claimed: string, how: keyof typeof SPOOF_RULES, subject: string): AosError {
  return aosError('ERR_DENIED', `a message on ${subject} claims to be from ${claimed} (${how}); denied as a spoof attempt`, {
    reason: 'spoof',
    rule: SPOOF_RULES[how],
    claimed,
    subject,
  });
}

/** This message's bytes, in memory of their own (nats.js hands out views into its read buffer); shared memory for a large one. */
function copy(data: Uint8Array): Uint8Array {
  if (data.length < SHARED_PAYLOAD_BYTES) return data.slice();
  const shared = new Uint8Array(new SharedArrayBuffer(data.length));
  shared.set(data);
  return shared;
}

export function parseInbound(msg: Msg, ctx: InboundContext): Parsed {
  const contentType = msg.headers?.get(CONTENT_TYPE_HEADER) || undefined;
  const replyTo = msg.reply || undefined;
  if (contentType === CT_ENVELOPE) {
    if (msg.data.length > ctx.maxMessageBytes) {
      throw new InboundError(tooLarge(msg.data.length, ctx.maxMessageBytes, msg.subject), undefined);
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(msg.data);
    } catch (err) {
      throw new InboundError(err as AosError, undefined);
    }
    if (!envelopeSealed(msg.data, ctx.key)) {
      // Whatever identity it carries, it was not stamped by a node of this cluster.
      const forged: Envelope = { ...env, payload: copy(env.payload) };
      throw new SpoofError(spoof(env.from, 'unsealed envelope', msg.subject), forged, env.from);
    }
    if (env.to !== ctx.to) {
      // A genuine envelope, captured and sent on to someone else: its seal covers `to`.
      throw new SpoofError(spoof(env.from, 'misdirected envelope', msg.subject), { ...env, payload: copy(env.payload) }, env.from);
    }
    if (!ctx.firstSeen(env.id)) {
      // A genuine envelope sent again (captured and replayed): it was handled once already.
      throw new SpoofError(spoof(env.from, 'replayed envelope', msg.subject), { ...env, payload: copy(env.payload) }, env.from);
    }
    env.payload = copy(env.payload);
    const delivery: Delivery = { env, subject: msg.subject, replyMode: 'envelope' };
    // A tell carries a reply subject only to catch "no responders"; it is never answered.
    if (replyTo !== undefined && env.kind !== 'tell') delivery.replyTo = replyTo;
    return { delivery, claimed: [] };
  }
  const parent = parseTraceparent(msg.headers?.get('traceparent') || undefined);
  const client = msg.headers?.get(CLIENT_HEADER, Match.IgnoreCase) || undefined;
  const from = client !== undefined && tokenProblem(client) === undefined ? `${EXTERNAL}/${client}` : EXTERNAL;
  const env: Envelope = {
    kind: ctx.kind === 'tell' && replyTo !== undefined ? 'ask' : ctx.kind,
    id: newMessageId(),
    from,
    to: ctx.to,
    correlationId: parent?.traceId ?? newCorrelationId(),
    causationId: parent?.spanId ?? null,
    sentAt: ctx.now,
    attempt: 0,
    format: formatOfContentType(contentType),
    payload: msg.data.length > ctx.maxMessageBytes ? new Uint8Array() : copy(msg.data),
  };
  if (msg.data.length > ctx.maxMessageBytes) {
    throw new InboundError(tooLarge(msg.data.length, ctx.maxMessageBytes, msg.subject), { ...env, payload: copy(msg.data) });
  }
  if (msg.headers !== undefined) {
    for (const h of IDENTITY_HEADERS) {
      // Header names are case-insensitive to most NATS clients (Go sends `Aos-From`).
      const value = msg.headers.get(h, Match.IgnoreCase);
      if (value !== '' && value !== EXTERNAL && value !== from) throw new SpoofError(spoof(value, 'identity header', msg.subject), env, value);
    }
  }
  const claimed = msg.headers === undefined ? [] : KERNEL_HEADERS.filter((h) => msg.headers!.has(h, Match.IgnoreCase));
  const delivery: Delivery = { env, subject: msg.subject, replyMode: 'raw' };
  if (replyTo !== undefined) delivery.replyTo = replyTo;
  return { delivery, claimed };
}

function tooLarge(size: number, limit: number, subject: string): AosError {
  return aosError('ERR_PAYLOAD_TOO_LARGE', `message of ${size} bytes on ${subject} exceeds the limit of ${limit}`, { size, limit, subject });
}
