// Turns a NATS message into a Delivery. A node's message is a kernel-stamped envelope;
// anything else is from `external`, whatever identity its headers claim (those claims are
// reported, never trusted). Only the envelope is parsed here: the payload stays bytes
// until a worker decodes it, so actor data is never parsed on the kernel thread.

import type { Msg } from 'nats';
import type { Delivery } from './actor-cell.js';
import { EXTERNAL } from './address.js';
import { CONTENT_TYPE_HEADER, CT_ENVELOPE, decodeEnvelope, formatOfContentType, type Envelope, type EnvelopeKind } from './envelope.js';
import { aosError, type AosError } from './errors/aos-error.js';
import { newCorrelationId, newMessageId, parseTraceparent } from './ids.js';

/** Headers an outside client might send to pose as an actor; ignored and reported. */
export const IDENTITY_HEADERS = ['aos-from', 'aos-id', 'aos-correlation-id', 'aos-causation-id'] as const;

export interface InboundContext {
  /** The AgentId (direct subjects) or subject (tasks) the message was addressed to. */
  to: string;
  kind: EnvelopeKind;
  now: number;
  maxMessageBytes: number;
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
  /** Identity headers an outside client sent (ignored); empty when none. */
  claimed: string[];
}

function copy(data: Uint8Array): Uint8Array {
  // nats.js hands out views into its read buffer; keep only this message's bytes.
  return data.slice();
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
    env.payload = copy(env.payload);
    const delivery: Delivery = { env, subject: msg.subject, replyMode: 'envelope' };
    // A tell carries a reply subject only to catch "no responders"; it is never answered.
    if (replyTo !== undefined && env.kind !== 'tell') delivery.replyTo = replyTo;
    return { delivery, claimed: [] };
  }
  const parent = parseTraceparent(msg.headers?.get('traceparent') || undefined);
  const env: Envelope = {
    kind: ctx.kind === 'tell' && replyTo !== undefined ? 'ask' : ctx.kind,
    id: newMessageId(),
    from: EXTERNAL,
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
  const claimed = msg.headers === undefined ? [] : IDENTITY_HEADERS.filter((h) => msg.headers!.has(h));
  const delivery: Delivery = { env, subject: msg.subject, replyMode: 'raw' };
  if (replyTo !== undefined) delivery.replyTo = replyTo;
  return { delivery, claimed };
}

function tooLarge(size: number, limit: number, subject: string): AosError {
  return aosError('ERR_PAYLOAD_TOO_LARGE', `message of ${size} bytes on ${subject} exceeds the limit of ${limit}`, { size, limit, subject });
}
