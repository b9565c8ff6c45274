// Which batches a trace log holds per node (seen-batches.ts): a re-sent batch is found, batches in
// order keep the state one run whatever their count (it travels with every tracer turn), runs
// merge as gaps fill, and past SEEN_WINDOW runs the watermark moves over the lowest gap.

import { describe, expect, test } from 'vitest';
import { remember, SEEN_WINDOW, wasSeen, type Seen } from 'autonomy-os/internal';

function rememberAll(batches: number[], from?: Seen): Seen {
  let s = from;
  for (const b of batches) if (!wasSeen(s, b)) s = remember(s, b);
  return s!;
}

describe('seen batches', () => {
  test('seen batches - in order, any number of them is one run; each is found, the next one is not', () => {
    const first = 1_795_503_802_723_002;
    const s = rememberAll([...Array(5_000).keys()].map((i) => first + i));
    expect(s).toEqual({ upTo: -1, above: [[first, first + 4_999]] });
    expect(wasSeen(s, first)).toBe(true);
    expect(wasSeen(s, first + 4_999)).toBe(true);
    expect(wasSeen(s, first + 5_000)).toBe(false);
    expect(wasSeen(s, first - 1)).toBe(false); // an older batch re-sent later is still written
  });

  test('seen batches - out of order: runs merge as the gaps fill, and from the lowest number on the watermark holds them', () => {
    let s = rememberAll([10, 12, 14]);
    expect(s.above).toEqual([[10, 10], [12, 12], [14, 14]]);
    expect(wasSeen(s, 11)).toBe(false);
    s = rememberAll([11, 13], s);
    expect(s.above).toEqual([[10, 14]]);
    s = rememberAll([9, 0, 1], s);
    expect(s).toEqual({ upTo: 1, above: [[9, 14]] });
    const before = JSON.stringify(s);
    remember(s, 5);
    expect(JSON.stringify(s)).toBe(before); // a new state: the old one is not changed
  });

  test('seen batches - past SEEN_WINDOW runs, the watermark moves over the lowest gap', () => {
    const s = rememberAll([...Array(SEEN_WINDOW + 1).keys()].map((i) => 100 + 2 * i));
    expect(s.above).toHaveLength(SEEN_WINDOW);
    expect(s.upTo).toBe(100);
    expect(wasSeen(s, 99)).toBe(true); // given up on: a batch the node dropped
    expect(wasSeen(s, 101)).toBe(false);
  });
});
