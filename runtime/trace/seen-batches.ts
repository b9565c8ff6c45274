// Which batches a log holds, per node: every number up to a watermark, and the numbers above it.
// A kernel re-sends a batch that was not acknowledged (its oldest first), so a log's writer looks
// it up here and writes it once. Rebuilt from a log's entries when its writer starts again.

import { batchHeader, parseEntry } from './verify-log.js';

export interface Seen {
  /** Every batch up to this number is in the log (-1: none yet). */
  upTo: number;
  /** The batches above `upTo`, as runs of consecutive numbers ([first, last], in order, a gap between each two). */
  above: [number, number][];
}

/** Runs kept above the watermark per node; past it the watermark moves over the lowest gap (a batch the node dropped). */
export const SEEN_WINDOW = 1024;

export function wasSeen(s: Seen | undefined, batch: number): boolean {
  if (s === undefined) return false;
  if (batch <= s.upTo) return true;
  for (const [first, last] of s.above) if (batch >= first && batch <= last) return true;
  return false;
}

/**
 * `batch` (not seen yet) added. A node's batches mostly come in order, so `above` is mostly one
 * run, whatever the count: the tracer's state stays small. A node's first batch here need not be
 * its oldest (older ones may be re-sent later): the watermark starts below all.
 */
export function remember(s: Seen | undefined, batch: number): Seen {
  const above = (s?.above ?? []).map(([first, last]): [number, number] => [first, last]);
  let i = above.findIndex(([first]) => first > batch);
  if (i < 0) i = above.length;
  const before = above[i - 1];
  const after = above[i];
  if (before !== undefined && before[1] === batch - 1) {
    before[1] = batch;
    if (after !== undefined && after[0] === batch + 1) before[1] = above.splice(i, 1)[0]![1];
  } else if (after !== undefined && after[0] === batch + 1) after[0] = batch;
  else above.splice(i, 0, [batch, batch]);
  let upTo = s?.upTo ?? -1;
  while (above.length > 0 && (above[0]![0] === upTo + 1 || above.length > SEEN_WINDOW)) upTo = above.shift()![1];
  return { upTo, above };
}

/** Per node, the batches of these log entries (lines of a file log, or a stream's messages). */
export function seenIn(entries: Iterable<string>): Record<string, Seen> {
  const seen: Record<string, Seen> = {};
  for (const line of entries) noteSeen(seen, line);
  return seen;
}

/** Adds the batch of one log entry (nothing for a checkpoint or a line that is not an entry). */
export function noteSeen(seen: Record<string, Seen>, line: string): void {
  const entry = line === '' ? undefined : parseEntry(line);
  if (entry === undefined || typeof entry === 'string' || !('batch' in entry.body)) return;
  const header = batchHeader(entry.body.batch);
  if (header !== undefined && !wasSeen(seen[header.node], header.batch)) seen[header.node] = remember(seen[header.node], header.batch);
}
