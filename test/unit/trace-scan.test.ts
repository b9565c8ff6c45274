// The tracer's check of a batch's bytes (trace-scan.ts), against the reader (decodeTraceBatch):
// whatever the scanner accepts decodes, to as many records as it counted; cut-off, corrupted and
// loosely written batches are refused. Pure; the bad inputs are made from good ones.

import { describe, expect, test } from 'vitest';
import { decodeTraceBatch, encodeTraceBatch, recordsBatch, scanTraceBatch, TRACE_WIRE_VERSION, type TraceBatch } from 'autonomy-os/internal';

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);

/** A batch with a row of every event, handled rows with and without their turn and reply, odd strings and records. */
function sample(): TraceBatch {
  const b = recordsBatch('n1', 42, [
    { type: 'decision', at: 1_000, node: 'n1', actor: 'a/1', allow: false, detail: { note: 'é "quoted" \\ \u2028' } },
    { type: 'supervision', at: 999.5, node: 'n1', reason: { code: 'ERR_X' } },
  ]);
  b.t0 = 1_718_000_000_000;
  b.strings = ['a/1', 'ask', 'b/1', 'x.actor.b.1', 'ok', 'ERR_DENIED', 'ünï "cödé"\n'];
  const id = '0123456789abcdef';
  const c = 'fedcba9876543210fedcba9876543210';
  b.events = [
    ['sent', 0, 0, 1, 0, 2, 3, id, c, null, 12, null, null, 0],
    ['received', 1, 2, 1, 0, 2, 3, id, c, id, 12, null, null, 0],
    ['turn', 2, 2, 1, 0, 2, 3, id, c, null, 12, 4, 1500, 0],
    ['replied', 3, 2, 1, 0, 2, 3, id, c, null, 12, 5, null, 2],
    ['failed', -4, 6, 1, 0, 2, 3, 'x","y', 'c\\"d', '"', 0, 5, null, 1],
    ['retried', 5, 2, 1, 0, 2, 3, id, c, null, 12, 5, null, 1],
    ['dead-lettered', 6, 2, 1, 0, 2, 3, id, c, null, 12, 5, null, 1],
    ['handled', 7, 2, 1, 0, 2, 3, id, c, null, 12, 4, 250, 0, 10, 1],
    ['handled', 8, 2, 1, 0, 2, 3, id, c, null, 12, 4, null, 0, null, 0],
    ['handled', 9.5, 2, 1, 0, 2, 3, id, c, null, 12, 4, 3, 0, 1e3, 0],
    ['handled', 10, 2, 1, 0, 2, 3, id, c, null, 12, 4, 250, 0, 10, 1, 40],
  ];
  return b;
}

describe('trace scan', () => {
  test('trace scan - a good batch: node, number and the count of records decodeTraceBatch gives', () => {
    const b = encodeTraceBatch(sample());
    const decoded = decodeTraceBatch(b);
    expect(decoded.records).toHaveLength(2 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 4 + 1 + 3 + 5);
    expect(decoded.records.filter((r) => (r as { event?: string }).event === 'sent').map((r) => [(r as { actor: string }).actor, r.at])).toEqual([
      ['a/1', 1_718_000_000_000],
      ['a/1', 1_718_000_000_000 + 10 - 0.04],
    ]);
    expect(scanTraceBatch(b)).toEqual({ node: 'n1', batch: 42, records: decoded.records.length });
    expect(scanTraceBatch(encodeTraceBatch(recordsBatch('n"2', 0, [])))).toEqual({ node: 'n"2', batch: 0, records: 0 });
  });

  test('trace scan - every cut-off batch is refused (a batch arrives whole or not at all)', () => {
    const b = encodeTraceBatch(sample());
    for (let n = 0; n < b.length; n++) expect(() => scanTraceBatch(b.subarray(0, n)), `first ${n} bytes`).toThrow();
  });

  test('trace scan - a corrupted byte anywhere is refused, or reads as the reader reads it', () => {
    const good = encodeTraceBatch(sample());
    const count = decodeTraceBatch(good).records.length;
    let refused = 0;
    const accepted = new Set<number>();
    for (let i = 0; i < good.length; i++) {
      for (const c of [0x00, 0x20, 0x22, 0x2c, 0x31, 0x5c, 0x5d, 0x7d, 0xff]) {
        if (good[i] === c) continue;
        const bad = good.slice();
        bad[i] = c;
        let scanned;
        try {
          scanned = scanTraceBatch(bad);
        } catch {
          refused++;
          continue;
        }
        // Accepted (a digit for a digit, a character inside a string): the reader agrees with it.
        expect(decodeTraceBatch(bad).records, `byte ${i} set to ${c}`).toHaveLength(scanned.records);
        accepted.add(scanned.records);
      }
    }
    expect(refused).toBeGreaterThan(good.length * 5);
    expect(accepted.has(count)).toBe(true); // e.g. a digit of an id for another
    expect(accepted.has(count + 1)).toBe(true); // replied 0 -> 1: another batch, read alike by both
  });

  test('trace scan - loose or wrong batches are refused: another version, spacing, member order, ranges, types, encoding', () => {
    const good = new TextDecoder().decode(encodeTraceBatch(sample()));
    const cases: [string, string][] = [
      ['another version', good.replace(`{"v":${TRACE_WIRE_VERSION},`, '{"v":1,')],
      ['a space', good.replace('"batch":42', '"batch": 42')],
      ['members in another order', good.replace('"node":"n1","batch":42', '"batch":42,"node":"n1"')],
      ['a string index out of range', good.replace('["sent",0,0,', '["sent",0,7,')],
      ['an unknown event', good.replace('["sent",', '["sens",')],
      ['a row too short', good.replace(',null,12,null,null,0]', ',null,12,null,null]')],
      ['a handled row without replied', good.replace(',10,1]', ',10]')],
      ['replied that is not 0 or 1', good.replace(',10,1]', ',10,2]')],
      ['sentUs that is not a number', good.replace(',10,1,40]', ',10,1,"40"]')],
      ['a handled row too long', good.replace(',10,1,40]', ',10,1,40,0]')],
      ['an id that is a number', good.replace('"x\\",\\"y"', '7')],
      ['a number out of range', good.replace('"t0":1718000000000', '"t0":1e999')],
      ['a batch number too large', good.replace('"batch":42', '"batch":9007199254740993')],
      ['a record that is not an object', good.replace('"records":[{', '"records":[1,{')],
      ['a record without a time', good.replace('"at":1000,', '')],
      ['trailing bytes', `${good} `],
      ['not JSON at all', 'hello'],
    ];
    for (const [what, text] of cases) {
      expect(text, what).not.toBe(good);
      expect(() => scanTraceBatch(bytes(text)), what).toThrow();
    }
    // Bytes that are not UTF-8 inside a string, and a raw control character.
    const b = encodeTraceBatch(sample());
    const at = b.indexOf(0xc3); // the first byte of "ü" in the string table
    const broken = b.slice();
    broken[at + 1] = 0x41;
    expect(() => scanTraceBatch(broken)).toThrow(/UTF-8/);
    expect(() => scanTraceBatch(bytes(good.replace('"a/1"', '"a\t1"')))).toThrow(/control/);
  });
});
