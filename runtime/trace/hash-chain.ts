// The trace log's format, and its writer: one JSON line per entry, each trace batch one entry
// holding the batch's bytes as the kernel sent them, chained to the entry before: `hash =
// sha256(the line without its hash member)`, and the line holds `prev`, the hash before it. A
// checkpoint entry follows whenever the record count passes a multiple of N. Pure: LogWriter
// turns batches into lines (verify-log.ts reads them back). Files are file-log.ts's business,
// streams stream-log.ts's.
//
//   {"seq":7,"at":1718000000123,"prev":"9c1f…","hash":"5e07…","tracer":"tracer/n1","count":5120,"batch":{"v":2,"node":"n1",…}}
//   {"seq":8,"at":1718000000123,"prev":"5e07…","hash":"0b4d…","checkpoint":{"count":5120,"head":"5e07…"}}
//   {"seq":9,"at":1718000000456,"prev":"0b4d…","hash":"77a2…","checkpoint":{"count":5120,"head":"0b4d…","deletedBefore":4}}
//
// A checkpoint with `deletedBefore` is a retention mark: the log (file-log.ts) is about to delete
// its entries before that seq (its oldest segments), and says so in the chain first, so verify
// can tell entries the log's own retention deleted from entries that went some other way.
// `count` is the number of records in the log up to and including the entry, so an entry holds
// records `count - n + 1` to `count`, n being what its batch stands for (trace-scan.ts).

import { createHash } from 'node:crypto';

/** The `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** A batch to append: its bytes (checked by scanTraceBatch), the records it stands for, and who appends it. */
export interface BatchInput {
  bytes: Uint8Array;
  records: number;
  tracer: string;
}

/** Every N records: how many records the log holds so far, and the hash of the entry before; a retention mark also says which entries the log deletes. */
export interface Checkpoint {
  count: number;
  head: string;
  /** A retention mark: the log deletes its entries before this seq (whole segments). */
  deletedBefore?: number;
}

/** The last entry written: what the `<log>.head` sidecar holds (with the chain's counts, when its writer wrote them). */
export interface HeadMark {
  seq: number;
  hash: string;
  records?: number;
  batches?: number;
  checkpoints?: number;
}

/** Where a chain stands after some entries: all a writer needs to append the next one. */
export interface ChainState {
  /** The last entry's seq (0 before the first; seqs start at 1). */
  seq: number;
  /** The last entry's hash (GENESIS before the first). */
  hash: string;
  /** Records in the log (the last entry's count). */
  records: number;
  /** Batch entries. */
  batches: number;
  checkpoints: number;
  /** The newest retention mark read so far (verify's): the log's own retention deleted the entries before this seq. */
  deletedBefore?: number;
}

export const EMPTY_CHAIN: Readonly<ChainState> = { seq: 0, hash: GENESIS, records: 0, batches: 0, checkpoints: 0 };

const HEX64 = /^[0-9a-f]{64}$/;
/** `"hash":"` + 64 hex + `",`: what the hashed text leaves out. */
export const HASH_MEMBER = 8 + 64 + 1 + 1;

const encoder = new TextEncoder();

/** The line of a checkpoint entry, hashed. */
function checkpointLine(seq: number, at: number, prev: string, cp: Checkpoint): { line: string; hash: string } {
  const head = `{"seq":${seq},"at":${at},"prev":"${prev}"`;
  const mark = cp.deletedBefore === undefined ? '' : `,"deletedBefore":${cp.deletedBefore}`;
  const rest = `"checkpoint":{"count":${cp.count},"head":"${cp.head}"${mark}}}`;
  const hash = createHash('sha256').update(`${head},`).update(rest).digest('hex');
  return { line: `${head},"hash":"${hash}",${rest}`, hash };
}

export function formatHead(head: HeadMark): string {
  const counts = head.records === undefined ? '' : `,"records":${head.records},"batches":${head.batches ?? 0},"checkpoints":${head.checkpoints ?? 0}`;
  return `{"seq":${head.seq},"hash":"${head.hash}"${counts}}`;
}

/** A head sidecar's text as a mark, or undefined when it is not `{"seq": n, "hash": <64 hex>[, "records": n, "batches": n, "checkpoints": n]}`. */
export function parseHead(text: string): HeadMark | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || !isSeq((v as { seq?: unknown }).seq, 0)) return undefined;
  const { seq, hash, records, batches, checkpoints } = v as { seq: number; hash?: unknown; records?: unknown; batches?: unknown; checkpoints?: unknown };
  if (typeof hash !== 'string' || !HEX64.test(hash)) return undefined;
  if (records === undefined && batches === undefined && checkpoints === undefined) return { seq, hash };
  if (!isSeq(records, 0) || !isSeq(batches, 0) || !isSeq(checkpoints, 0)) return undefined;
  return { seq, hash, records, batches, checkpoints };
}

export interface LogWriterOptions {
  /** A checkpoint entry after the batch that brings the record count past a multiple of this (default 1000). */
  checkpointEvery?: number;
  /** The clock for each entry's `at` (default Date.now). */
  now?: () => number;
  /** Continue a chain (from verifyLog's `tail`); default: a new log. */
  from?: ChainState;
}

/** Appends batches to a chain: keeps seq, prev and count, returns each entry's line. */
export class LogWriter {
  private state: ChainState;
  private readonly every: number;
  private readonly now: () => number;

  constructor(options: LogWriterOptions = {}) {
    this.every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isSafeInteger(this.every) || this.every < 1) throw new RangeError(`checkpointEvery must be a positive integer, got ${this.every}`);
    this.now = options.now ?? Date.now;
    this.state = { ...(options.from ?? EMPTY_CHAIN) };
  }

  get chain(): ChainState {
    return { ...this.state };
  }

  get head(): HeadMark {
    return { seq: this.state.seq, hash: this.state.hash };
  }

  /**
   * A checkpoint entry now, with its newline: where the chain stands (the first line of a new
   * segment of a log); with `deletedBefore`, a retention mark (the log deletes its entries before that seq).
   */
  checkpoint(deletedBefore?: number): Uint8Array {
    const s = this.state;
    const cp = checkpointLine(s.seq + 1, Math.floor(this.now()), s.hash, { count: s.records, head: s.hash, ...(deletedBefore === undefined ? {} : { deletedBefore }) });
    this.state = { seq: s.seq + 1, hash: cp.hash, records: s.records, batches: s.batches, checkpoints: s.checkpoints + 1 };
    return encoder.encode(`${cp.line}\n`);
  }

  /**
   * The bytes of the batch's entry and of the checkpoint it may complete, each line ending in a
   * newline; the chain moves past them. The batch's bytes go into the line as they are.
   */
  append(input: BatchInput): Uint8Array {
    return Buffer.concat(this.appendParts(input));
  }

  /** As append, in parts (the batch's bytes one of them, not copied): for a vectored write. */
  appendParts(input: BatchInput): Uint8Array[] {
    const { lines } = this.entries(input);
    const parts: Uint8Array[] = [];
    for (const line of lines) parts.push(...line, NEWLINE);
    return parts;
  }

  /** The lines (without newlines) of the batch's entry and of the checkpoint it may complete, and the chain after each (a stream stores each line as a message). */
  appendLines(input: BatchInput): { lines: Uint8Array[]; chains: ChainState[] } {
    const { lines, chains } = this.entries(input);
    return { lines: lines.map((parts) => Buffer.concat(parts)), chains };
  }

  private entries(input: BatchInput): { lines: Uint8Array[][]; chains: ChainState[] } {
    const s = this.state;
    const at = Math.floor(this.now());
    const seq = s.seq + 1;
    const count = s.records + input.records;
    const head = encoder.encode(`{"seq":${seq},"at":${at},"prev":"${s.hash}"`);
    const rest = encoder.encode(`"tracer":${JSON.stringify(input.tracer)},"count":${count},"batch":`);
    const hash = createHash('sha256').update(head).update(',').update(rest).update(input.bytes).update('}').digest('hex');
    const lines: Uint8Array[][] = [[head, encoder.encode(`,"hash":"${hash}",`), rest, input.bytes, CLOSE_BRACE]];
    const chains: ChainState[] = [{ seq, hash, records: count, batches: s.batches + 1, checkpoints: s.checkpoints }];
    if (Math.floor(count / this.every) > Math.floor(s.records / this.every)) {
      const cp = checkpointLine(seq + 1, at, hash, { count, head: hash });
      lines.push([encoder.encode(cp.line)]);
      chains.push({ seq: seq + 1, hash: cp.hash, records: count, batches: s.batches + 1, checkpoints: s.checkpoints + 1 });
    }
    this.state = chains[chains.length - 1]!;
    return { lines, chains };
  }
}

const NEWLINE = new Uint8Array([10]);
const CLOSE_BRACE = new Uint8Array([125]);
/** The first 12 hex digits: enough to tell hashes apart when reading. */
export function short(hash: string): string {
  return hash.slice(0, 12);
}
function isSeq(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}
