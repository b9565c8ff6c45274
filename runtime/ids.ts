// Message ids that double as W3C trace ids: a chain's correlationId is a 32-hex trace id
// and each message id is a 16-hex span id, so `traceparent` is derived from the envelope
// and never disagrees with it. Randomness comes from a refilled pool (one syscall per 4 KiB).

import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let cursor = POOL.length;

/** Random bytes as hex, in one flat string (concatenating pairs made a rope that every reader flattened again). */
function hex(bytes: number): string {
  if (cursor + bytes > POOL.length) {
    randomFillSync(POOL);
    cursor = 0;
  }
  const out = POOL.toString('hex', cursor, cursor + bytes);
  cursor += bytes;
  return out;
}

/** A 16-hex message id (a W3C span id). */
export function newMessageId(): string {
  return hex(8);
}

/** A 32-hex correlation id (a W3C trace id). */
export function newCorrelationId(): string {
  return hex(16);
}

/** A short random token for node ids and inbox names. */
export function newToken(bytes = 5): string {
  return hex(bytes);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

export function formatTraceparent(correlationId: string, messageId: string): string {
  return `00-${correlationId}-${messageId}-01`;
}

/** Parses a W3C traceparent; undefined when absent or malformed (it is then ignored, not trusted). */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string } | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]! };
}
