// Checks a trace batch's bytes without decoding them: the tracer's write path. A strict reader
// of the compact form the kernel writes (trace-codec.ts; key order fixed, no whitespace), walking
// the bytes once: every row has its event, its fields of the right types and string indexes in
// range. What it accepts, decodeTraceBatch reads; it counts the records the batch stands for
// and finds the node and batch number, so a batch can be logged as the bytes it came as.

import { isRecord, ROW_LENGTH, TRACE_WIRE_VERSION, type WireEvent } from './trace-codec.js';

export interface ScannedBatch {
  node: string;
  batch: number;
  /** Records the batch stands for (decodeTraceBatch's count). */
  records: number;
}

const encoder = new TextEncoder();
// Fatal: bytes that are not UTF-8 are refused, so a logged batch reads back as the same text.
const decoder = new TextDecoder('utf-8', { fatal: true });
const bytesOf = (s: string): Uint8Array => encoder.encode(s);

const HEAD = bytesOf(`{"v":${TRACE_WIRE_VERSION},"node":`);
const BATCH = bytesOf(',"batch":');
const T0 = bytesOf(',"t0":');
const STRINGS = bytesOf(',"strings":[');
const EVENTS = bytesOf(',"events":[');
const RECORDS = bytesOf(',"records":');
const NULL = bytesOf('null');
// `handled` first: most rows are.
const EVENT_NAMES = (Object.keys(ROW_LENGTH) as WireEvent[])
  .sort((a, b) => Number(b === 'handled') - Number(a === 'handled'))
  .map((name) => ({ name, bytes: bytesOf(`"${name}"`) }));

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN = 91;
const CLOSE = 93;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

class ScanError extends Error {
  constructor(what: string, at: number) {
    super(`not a trace batch of version ${TRACE_WIRE_VERSION} in the compact form: ${what} at byte ${at}`);
  }
}

function literal(b: Uint8Array, i: number, lit: Uint8Array, what: string): number {
  if (i + lit.length > b.length) throw new ScanError(`${what} expected`, i);
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) throw new ScanError(`${what} expected`, i);
  return i + lit.length;
}

function isLiteral(b: Uint8Array, i: number, lit: Uint8Array): boolean {
  if (i + lit.length > b.length) return false;
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) return false;
  return true;
}

function byte(b: Uint8Array, i: number, c: number, what: string): number {
  if (b[i] !== c) throw new ScanError(`${what} expected`, i);
  return i + 1;
}

const HEX_DIGIT = (c: number | undefined): boolean => c !== undefined && ((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70));

const CONT = (c: number | undefined, lo = 0x80, hi = 0xbf): boolean => c !== undefined && c >= lo && c <= hi;

/** A UTF-8 sequence of more than one byte starting at `j` (lead byte `c`); the index of its last byte. */
function multibyte(b: Uint8Array, j: number, c: number): number {
  if (c >= 0xc2 && c <= 0xdf && CONT(b[j + 1])) return j + 1;
  if (c >= 0xe0 && c <= 0xef && CONT(b[j + 1], c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && CONT(b[j + 2])) return j + 2;
  if (c >= 0xf0 && c <= 0xf4 && CONT(b[j + 1], c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && CONT(b[j + 2]) && CONT(b[j + 3])) return j + 3;
  throw new ScanError('bytes that are not UTF-8', j);
}

/** Lowercase hex digits, what the kernel's ids are made of. */
const HEX_ID = new Uint8Array(256);
for (const c of '0123456789abcdef') HEX_ID[c.charCodeAt(0)] = 1;

/** An id at `i` (a JSON string): lowercase hex read fast, anything else as any string; the index after it. */
function id(b: Uint8Array, i: number): number {
  if (b[i] === QUOTE) {
    let j = i + 1;
    while (HEX_ID[b[j]!] === 1) j++;
    if (b[j] === QUOTE) return j + 1;
  }
  return str(b, i);
}

/** A JSON string at `i`; the index after its closing quote. */
function str(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) throw new ScanError('a string expected', i);
  for (let j = i + 1; j < b.length; j++) {
    const c = b[j]!;
    if (c === QUOTE) return j + 1;
    if (c < 0x20) throw new ScanError('a control character in a string', j);
    if (c >= 0x80) j = multibyte(b, j, c);
    if (c === BACKSLASH) {
      const e = b[++j];
      if (e === 117) {
        if (!(HEX_DIGIT(b[j + 1]) && HEX_DIGIT(b[j + 2]) && HEX_DIGIT(b[j + 3]) && HEX_DIGIT(b[j + 4]))) throw new ScanError('a bad \\u escape', j);
        j += 4;
      } else if (e !== QUOTE && e !== BACKSLASH && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) throw new ScanError('a bad escape', j);
    }
  }
  throw new ScanError('an unterminated string', i);
}

/** A JSON number at `i`; the index after it. */
function num(b: Uint8Array, i: number): number {
  let j = i;
  if (b[j] === MINUS) j++;
  const first = b[j];
  if (first === ZERO) j++;
  else if (first !== undefined && first > ZERO && first <= NINE) while (b[j] !== undefined && b[j]! >= ZERO && b[j]! <= NINE) j++;
  else throw new ScanError('a number expected', i);
  if (b[j] === 46) {
    const d = ++j;
    while (b[j] !== undefined && b[j]! >= ZERO && b[j]! <= NINE) j++;
    if (j === d) throw new ScanError('a digit expected', j);
  }
  if (b[j] === 101 || b[j] === 69) {
    j++;
    if (b[j] === 43 || b[j] === MINUS) j++;
    const d = j;
    while (b[j] !== undefined && b[j]! >= ZERO && b[j]! <= NINE) j++;
    if (j === d) throw new ScanError('a digit expected', j);
    // Only here can a JSON number overflow to Infinity, which the decoder refuses.
    if (!Number.isFinite(Number(decoder.decode(b.subarray(i, j))))) throw new ScanError('a number out of range', i);
  }
  return j;
}

function numOrNull(b: Uint8Array, i: number): number {
  return isLiteral(b, i, NULL) ? i + 4 : num(b, i);
}

/** A non-negative integer below `limit` at `i` (a string index). */
function index(b: Uint8Array, i: number, limit: number): number {
  let j = i;
  let v = 0;
  if (b[j] === ZERO) j++;
  else
    while (b[j] !== undefined && b[j]! >= ZERO && b[j]! <= NINE) {
      v = v * 10 + (b[j]! - ZERO);
      j++;
    }
  if (j === i || v >= limit) throw new ScanError(j === i ? 'a string index expected' : `string index ${v} out of range`, i);
  return j;
}

function indexOrNull(b: Uint8Array, i: number, limit: number): number {
  return isLiteral(b, i, NULL) ? i + 4 : index(b, i, limit);
}

/** Checks a batch's bytes; throws an Error naming the first problem. */
export function scanTraceBatch(b: Uint8Array): ScannedBatch {
  let i = literal(b, 0, HEAD, 'the header {"v":2,"node":');
  const nodeStart = i;
  i = str(b, i);
  const node = JSON.parse(decoder.decode(b.subarray(nodeStart, i))) as string;
  i = literal(b, i, BATCH, '"batch"');
  const batchStart = i;
  i = index(b, i, Number.MAX_SAFE_INTEGER);
  const batch = Number(decoder.decode(b.subarray(batchStart, i)));
  if (!Number.isSafeInteger(batch)) throw new ScanError('a batch number out of range', batchStart);
  i = num(b, literal(b, i, T0, '"t0"'));
  i = literal(b, i, STRINGS, '"strings"');
  let strings = 0;
  if (b[i] !== CLOSE) {
    for (;;) {
      i = str(b, i);
      strings++;
      if (b[i] !== COMMA) break;
      i++;
    }
  }
  i = literal(b, byte(b, i, CLOSE, '] after the strings'), EVENTS, '"events"');
  let records = 0;
  if (b[i] !== CLOSE) {
    for (;;) {
      i = byte(b, i, OPEN, 'a row');
      let event: (typeof EVENT_NAMES)[number] | undefined;
      for (const e of EVENT_NAMES) {
        if (isLiteral(b, i, e.bytes)) {
          event = e;
          break;
        }
      }
      if (event === undefined) throw new ScanError('an event name expected', i);
      i = byte(b, i + event.bytes.length, COMMA, ',');
      i = byte(b, num(b, i), COMMA, ','); // dt
      for (let k = 0; k < 5; k++) i = byte(b, index(b, i, strings), COMMA, ','); // actor, kind, from, to, subject
      i = byte(b, id(b, i), COMMA, ','); // id
      i = byte(b, id(b, i), COMMA, ','); // correlationId
      i = byte(b, isLiteral(b, i, NULL) ? i + 4 : id(b, i), COMMA, ','); // causationId
      i = byte(b, num(b, i), COMMA, ','); // size
      i = byte(b, indexOrNull(b, i, strings), COMMA, ','); // outcome
      const timed = !isLiteral(b, i, NULL);
      i = byte(b, numOrNull(b, i), COMMA, ','); // durationUs
      i = num(b, i); // attempt
      if (event.name === 'handled') {
        i = byte(b, i, COMMA, ',');
        const started = !isLiteral(b, i, NULL);
        i = byte(b, numOrNull(b, i), COMMA, ','); // startUs
        const replied = b[i];
        if (replied !== ZERO && replied !== ZERO + 1) throw new ScanError('replied (0 or 1) expected', i);
        i++;
        const sentHere = b[i] === COMMA;
        if (sentHere) i = num(b, i + 1); // sentUs
        // As decodeTraceBatch expands it: sent (when here), received, the turn (started and finished) when timed, replied.
        records += (sentHere ? 2 : 1) + (started && timed ? 2 : 0) + (replied === ZERO + 1 ? 1 : 0);
      } else records += event.name === 'turn' ? 2 : 1;
      i = byte(b, i, CLOSE, '] at the end of a row');
      if (b[i] !== COMMA) break;
      i++;
    }
  }
  i = literal(b, byte(b, i, CLOSE, '] after the events'), RECORDS, '"records"');
  if (b[b.length - 1] !== 125) throw new ScanError('} at the end expected', b.length - 1);
  let others: unknown;
  try {
    others = JSON.parse(decoder.decode(b.subarray(i, b.length - 1)));
  } catch (err) {
    throw new ScanError(`records that are not JSON in UTF-8 (${(err as Error).message})`, i);
  }
  if (!Array.isArray(others)) throw new ScanError('an array of records expected', i);
  for (const r of others) if (!isRecord(r)) throw new ScanError('a record is an object with a type and a time (at)', i);
  return { node, batch, records: records + others.length };
}
