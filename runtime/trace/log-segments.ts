// A file log's segments. A log given `rotateBytes` starts a new file when its file passes that
// size: the full one is renamed `<log>.<its last seq, 12 digits>` and the new `<log>` opens with a
// checkpoint entry that continues the chain (its `prev` is the last hash of the segment before,
// and it says how many records the log holds). So the segments, oldest first and then `<log>`,
// are one chain, and a segment moved away (archived) leaves the rest verifiable from there. With
// `keepSegments` or `keepDays`, the log itself deletes its oldest segments (file-log.ts, retain).

import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const SEGMENT = /^\d{12}$/;

/** The name of the segment that ends at `lastSeq`. */
export function segmentName(path: string, lastSeq: number): string {
  return `${path}.${String(lastSeq).padStart(12, '0')}`;
}

/** The last seq of the entries in a segment, from its name. */
export function segmentLastSeq(segment: string): number {
  return Number(segment.slice(segment.lastIndexOf('.') + 1));
}

/** Every file of a log, oldest first: its segments, then the log itself when it exists. */
export function logFiles(path: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  const segments = names.filter((n) => n.startsWith(prefix) && SEGMENT.test(n.slice(prefix.length))).sort().map((n) => join(dir, n));
  return existsSync(path) ? [...segments, path] : segments;
}
