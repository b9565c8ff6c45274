// The envelope every message carries between nodes (ARCHITECTURE.md, "Envelopes"), and
// the pure codecs for it and for payloads. Decoding never throws anything but an
// InputError with code ERR_DECODE, so a malformed body is always a typed, traceable event.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { C1, Packr } from 'msgpackr';
import type { WireError } from './errors/aos-error.js';
import { aosError } from './errors/aos-error.js';
import { formatTraceparent } from './ids.js';

/** Header carrying the content type; the only header the kernel writes. */
export const CONTENT_TYPE_HEADER = 'content-type';
/** A kernel-stamped envelope, msgpack-encoded (actor to actor). */
export const CT_ENVELOPE = 'application/vnd.aos.envelope+msgpack';
export const CT_JSON = 'application/json';
export const CT_MSGPACK = 'application/msgpack';

export type PayloadFormat = 'json' | 'msgpack';
/** `approval`: the outcome of an actor's approval request, sent by a node to the actor (its onApproval handler). */
export type EnvelopeKind = 'tell' | 'ask' | 'reply' | 'task' | 'event' | 'approval';
const KINDS: readonly EnvelopeKind[] = ['tell', 'ask', 'reply', 'task', 'event', 'approval'];
const WIRE_VERSION = 1;

export interface Envelope {
  kind: EnvelopeKind;
  /** 16-hex message id (a W3C span id). */
  id: string;
  /** AgentId of the sender, `system/<node>` for a node itself, or `external`. */
  from: string;
  /** AgentId of the target, or the subject for tasks and events. */
  to: string;
  /** 32-hex id shared by a whole chain of work (a W3C trace id). */
  correlationId: string;
  /** Id of the message being handled when this one was sent; null at the root of a chain. */
  causationId: string | null;
  sentAt: number;
  deadline?: number;
  attempt: number;
  format: PayloadFormat;
  /** The encoded value (in `format`); empty for error replies. */
  payload: Uint8Array;
  error?: WireError;
}

export function traceparentOf(env: Pick<Envelope, 'correlationId' | 'id'>): string {
  return formatTraceparent(env.correlationId, env.id);
}

// Plain msgpack maps, no msgpackr records: any-language clients must be able to read us.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Bytes of the MAC that seals an envelope (HMAC-SHA256, truncated). */
const MAC_BYTES = 16;
const ARRAY_13 = 0x9d;
const ARRAY_14 = 0x9e;
const BIN_8 = 0xc4;

/**
 * Encodes an envelope; with a cluster key, seals it: the 13 fields become a 14-field array
 * whose last element is an HMAC of the first 13, so a client without the key cannot forge
 * an identity (any msgpack reader still reads the fields).
 */
export function encodeEnvelope(env: Envelope, key?: Uint8Array): Uint8Array {
  const fields = packFields(env);
  if (key === undefined) return fields;
  const out = new Uint8Array(fields.length + 2 + MAC_BYTES);
  out.set(fields);
  out[0] = ARRAY_14;
  out[fields.length] = BIN_8;
  out[fields.length + 1] = MAC_BYTES;
  out.set(createHmac('sha256', key).update(fields).digest().subarray(0, MAC_BYTES), fields.length + 2);
  return out;
}

/** True when the bytes are an envelope sealed with `key` (see encodeEnvelope). */
export function envelopeSealed(bytes: Uint8Array, key: Uint8Array): boolean {
  const n = bytes.length - 2 - MAC_BYTES;
  if (n < 1 || bytes[0] !== ARRAY_14 || bytes[n] !== BIN_8 || bytes[n + 1] !== MAC_BYTES) return false;
  const mac = createHmac('sha256', key).update(Uint8Array.of(ARRAY_13)).update(bytes.subarray(1, n)).digest().subarray(0, MAC_BYTES);
  return timingSafeEqual(mac, bytes.subarray(n + 2));
}

/** Header carrying the seal of a JSON error reply from a node (so a forged error is not believed). */
export const SEAL_HEADER = 'aos-seal';

/** The seal of any bytes (for bodies that are not envelopes, such as JSON error replies). */
export function sealOf(bytes: Uint8Array, key: Uint8Array): string {
  return createHmac('sha256', key).update(bytes).digest().subarray(0, MAC_BYTES).toString('base64url');
}

export function sealMatches(bytes: Uint8Array, seal: string, key: Uint8Array): boolean {
  const want = Buffer.from(sealOf(bytes, key));
  const got = Buffer.from(seal);
  return want.length === got.length && timingSafeEqual(want, got);
}

function packFields(env: Envelope): Uint8Array {
  return packr.pack([
    WIRE_VERSION,
    env.kind,
    env.id,
    env.from,
    env.to,
    env.correlationId,
    env.causationId,
    env.sentAt,
    env.deadline ?? null,
    env.attempt,
    env.format === 'json' ? 1 : 0,
    env.payload,
    env.error ?? null,
  ]);
}

function bad(reason: string, cause?: unknown): never {
  throw aosError('ERR_DECODE', `malformed envelope: ${reason}`, { reason }, cause);
}

const str = (v: unknown, what: string): string => (typeof v === 'string' && v.length > 0 ? v : bad(`${what} is not a string`));

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    bad('not valid msgpack (or truncated)', err);
  }
  if (raw === C1) bad('reserved msgpack byte 0xc1');
  // 14 fields: a sealed envelope (the MAC is checked by the receiver, which holds the key).
  if (!Array.isArray(raw) || (raw.length !== 13 && raw.length !== 14)) bad('not a 13-field array');
  const [v, kind, id, from, to, corr, cause, sentAt, deadline, attempt, fmt, payload, error] = raw as unknown[];
  if (v !== WIRE_VERSION) bad(`unsupported version ${String(v)}`);
  if (!KINDS.includes(kind as EnvelopeKind)) bad(`unknown kind ${String(kind)}`);
  if (cause !== null && typeof cause !== 'string') bad('causationId is not a string');
  if (typeof sentAt !== 'number') bad('sentAt is not a number');
  if (deadline !== null && typeof deadline !== 'number') bad('deadline is not a number');
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 0) bad('attempt is not a count');
  if (fmt !== 0 && fmt !== 1) bad('unknown payload format');
  if (!(payload instanceof Uint8Array)) bad('payload is not binary');
  if (error !== null && (typeof error !== 'object' || typeof (error as WireError).code !== 'string')) bad('error is malformed');
  const env: Envelope = {
    kind: kind as EnvelopeKind,
    id: str(id, 'id'),
    from: str(from, 'from'),
    to: str(to, 'to'),
    correlationId: str(corr, 'correlationId'),
    causationId: cause as string | null,
    sentAt,
    attempt,
    format: fmt === 1 ? 'json' : 'msgpack',
    payload,
  };
  if (deadline !== null) env.deadline = deadline as number;
  if (error !== null) env.error = error as WireError;
  return env;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Payloads from this size on are copied into shared memory as they arrive (inbound.ts): the
 * worker that runs the turn reads them where they lie, where a structured clone would copy them
 * again on the kernel thread (the tracer's batches, ~200 KB each, cost more to clone than to
 * record). Payloads are read-only to actors: a worker decodes them or (rawInput) reads their bytes.
 */
export const SHARED_PAYLOAD_BYTES = 16 * 1024;

/** The bytes in a buffer of their own when they are a plain Uint8Array view. A Node Buffer's
 *  `slice()` is a view too, so msgpackr's Buffers stay views into its scratch buffer: a structured
 *  clone copies that scratch once per message to or from a worker (whatever the number of payloads
 *  in it), which measured cheaper than a buffer of its own for each payload. */
export function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/** Encodes a value; `undefined` encodes as JSON `null` / msgpack nil. */
export function encodeValue(value: unknown, format: PayloadFormat): Uint8Array {
  if (format === 'json') return textEncoder.encode(JSON.stringify(value ?? null));
  return packr.pack(value ?? null);
}

export function decodeValue(bytes: Uint8Array, format: PayloadFormat): unknown {
  try {
    if (format === 'json') return JSON.parse(textDecoder.decode(bytes));
    // A large payload is in shared memory (inbound.ts), which msgpackr refuses: it reads a copy.
    const shared = bytes.length >= SHARED_PAYLOAD_BYTES && bytes.buffer instanceof SharedArrayBuffer;
    const value: unknown = packr.unpack(shared ? new Uint8Array(bytes) : bytes);
    // msgpackr answers the reserved byte 0xc1 with a marker object instead of failing.
    if (value === C1) throw new Error('reserved msgpack byte 0xc1');
    return value;
  } catch (err) {
    throw aosError('ERR_DECODE', `body is not valid ${format === 'json' ? 'JSON' : 'msgpack'}`, { format }, err);
  }
}

/** The payload format announced by a content-type header from an outside client (JSON unless it says msgpack). */
export function formatOfContentType(contentType: string | undefined): PayloadFormat {
  return contentType !== undefined && contentType.trim().toLowerCase().startsWith(CT_MSGPACK) ? 'msgpack' : 'json';
}
