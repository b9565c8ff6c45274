// Which batches a log holds, per node: every number up to a watermark, and the numbers above it.
// A kernel re-sends a batch that was not acknowledged (its oldest first), so a log's writer looks
// it up here and writes it once. Rebuilt from a log's entries when its writer starts again.

import { batchHeader, parseEntry } from './verify-log.js';

export interface Seen {
  upTo: number;
  above: number[];
}

/** Numbers above the watermark kept per node; past it the watermark moves up (a gap there is a batch the node dropped). */
export const SEEN_WINDOW = 1024;

export function wasSeen(s: Seen | undefined, batch: number): boolean {
  return s !== undefined && (batch <= s.upTo || s.above.includes(batch));
}

export function remember(s: Seen | undefined, batch: number): Seen {
  // A node's first batch here need not be its oldest (older ones may be re-sent later): start below all.
  const above = [...(s?.above ?? []), batch].sort((a, b) => a - b);
  let upTo = s?.upTo ?? -1;
  while (above.length > 0 && (above[0] === upTo + 1 || above.length > SEEN_WINDOW)) upTo = above.shift()!;
  return { upTo, above };
}

/** Per node, the batches of these log entries (lines of a file log, or a stream's messages). */
export function seenIn(entries: Iterable<string>): Record<string, Seen> {
  const seen: Record<string, Seen> = {};
  for (const line of entries) {
    const entry = line === '' ? undefined : parseEntry(line);
    if (entry === undefined || typeof entry === 'string' || !('batch' in entry.body)) continue;
    const header = batchHeader(entry.body.batch);
    if (header !== undefined && !wasSeen(seen[header.node], header.batch)) seen[header.node] = remember(seen[header.node], header.batch);
  }
  return seen;
}
