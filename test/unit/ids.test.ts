import { describe, expect, test } from 'vitest';
import { formatTraceparent, newCorrelationId, newMessageId, parseTraceparent } from 'autonomy-os/internal';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('ids', () => {
  test('ids - message ids are 16 lowercase hex characters and unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newMessageId();
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(10_000);
  });

  test('ids - correlation ids are 32 lowercase hex characters and unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newCorrelationId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(10_000);
  });

  test('traceparent - format is version 00, trace id, span id, sampled flag', () => {
    expect(formatTraceparent(TRACE, SPAN)).toBe(`00-${TRACE}-${SPAN}-01`);
  });

  test('traceparent - parse of a formatted value gives back its ids', () => {
    const corr = newCorrelationId();
    const id = newMessageId();
    expect(parseTraceparent(formatTraceparent(corr, id))).toEqual({ traceId: corr, spanId: id });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN });
  });

  test('traceparent - surrounding whitespace is tolerated', () => {
    expect(parseTraceparent(`  00-${TRACE}-${SPAN}-01 `)).toEqual({ traceId: TRACE, spanId: SPAN });
  });

  test('traceparent - malformed values are rejected', () => {
    const bad = [
      undefined,
      '',
      'garbage',
      `01-${TRACE}-${SPAN}-01`, // unknown version
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase hex
      `00-${TRACE.slice(1)}-${SPAN}-01`, // short trace id
      `00-${TRACE}0-${SPAN}-01`, // long trace id
      `00-${TRACE}-${SPAN.slice(1)}-01`, // short span id
      `00-${TRACE}-${SPAN}-1`, // short flags
      `00-${TRACE}-${SPAN}`, // missing flags
      `00-${TRACE}-${SPAN}-01-extra`,
      `00_${TRACE}_${SPAN}_01`,
      `00-${TRACE.slice(0, 31)}g-${SPAN}-01`,
    ];
    for (const v of bad) expect(parseTraceparent(v), String(v)).toBeUndefined();
  });

  test('traceparent - all-zero trace id or span id is rejected', () => {
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeUndefined();
  });
});
