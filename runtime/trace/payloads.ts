// Message payloads in the trace: recorded only for the subjects the policy names, decoded, and
// masked by the policy's field paths before they leave the kernel. `maskValue` is pure: it
// returns a copy and never touches the value it is given.

import { decodeValue, type Envelope } from '../envelope.js';

/** A compiled field path: its keys, `*` for any one key or array index. */
export type MaskPath = readonly string[];

/** What the trace needs of the policy in force (runtime/broker/policy.ts). */
export interface PayloadRule {
  payloadsFor(subject: string): boolean;
  readonly mask: readonly MaskPath[];
}

/** The record of one handled message's payload (at, ids and subject as in its `received` record). */
export interface PayloadRecord {
  type: 'payload';
  at: number;
  node: string;
  id: string;
  correlationId: string;
  actor: string;
  subject: string;
  /** The decoded value, masked; `{ undecodable: true }` when it could not be decoded. */
  value: unknown;
}

export const MASKED = '***';

export function compileMask(paths: readonly string[]): MaskPath[] {
  return paths.map((p) => p.split('.'));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A deep copy of `value` (plain objects and arrays) with every field a path reaches replaced by
 * "***". Paths start at the top level of the value. Anything else (numbers, strings, bytes) is
 * returned as it is.
 */
export function maskValue(value: unknown, paths: readonly MaskPath[]): unknown {
  return walk(value, paths, same);
}

const same = (v: unknown): unknown => v;

/** What JSON cannot hold, in a form it can: a msgpack body may carry 64-bit integers and bytes. */
function jsonLeaf(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  return v;
}

function walk(value: unknown, paths: readonly MaskPath[], leaf: (v: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((item, i) => field(item, String(i), paths, leaf));
  if (isPlainObject(value)) {
    // fromEntries defines own properties, so a key such as "__proto__" stays a plain field
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, field(item, key, paths, leaf)]));
  }
  return leaf(value);
}

/** The masked copy of the field `key` whose value is `item`, given the paths at its parent. */
function field(item: unknown, key: string, paths: readonly MaskPath[], leaf: (v: unknown) => unknown): unknown {
  let rest: MaskPath[] | undefined;
  for (const p of paths) {
    if (p[0] !== '*' && p[0] !== key) continue;
    if (p.length === 1) return MASKED;
    (rest ??= []).push(p.slice(1));
  }
  return walk(item, rest ?? [], leaf);
}

/** The value recorded for an envelope's payload: decoded in its format, masked, and fit for JSON. */
export function recordedValue(env: Pick<Envelope, 'payload' | 'format'>, mask: readonly MaskPath[]): unknown {
  let value: unknown;
  try {
    value = decodeValue(env.payload, env.format);
  } catch {
    // An undecodable body is still a fact worth recording; its bytes are not (they may hold secrets).
    return { undecodable: true };
  }
  return walk(value, mask, jsonLeaf);
}
