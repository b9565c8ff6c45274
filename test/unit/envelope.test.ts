import { Packr } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { AosError } from 'autonomy-os';
import { decodeEnvelope, decodeValue, encodeEnvelope, encodeValue, envelopeSealed, traceparentOf, type Envelope } from 'autonomy-os/internal';

// The wire form: a plain 13-element msgpack array (no msgpackr records).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

function sample(overrides: Partial<Envelope> = {}): Envelope {
  return {
    kind: 'ask',
    id: '0123456789abcdef',
    from: 'caller/one',
    to: 'callee/two',
    correlationId: '0123456789abcdef0123456789abcdef',
    causationId: 'fedcba9876543210',
    sentAt: 1_700_000_000_123,
    deadline: 1_700_000_030_000,
    attempt: 2,
    format: 'json',
    payload: Uint8Array.of(123, 34, 97, 34, 58, 49, 125),
    error: { code: 'ERR_TIMEOUT', message: 'late', details: { timeoutMs: 5 } },
    ...overrides,
  };
}

function wireArray(env: Envelope): unknown[] {
  return packr.unpack(encodeEnvelope(env)) as unknown[];
}

/** Asserts that decoding throws an AosError with code ERR_DECODE, and nothing else. */
function expectDecodeError(bytes: Uint8Array): void {
  let thrown: unknown;
  try {
    decodeEnvelope(bytes);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `bytes ${Buffer.from(bytes).toString('hex')}`).toBeInstanceOf(AosError);
  expect((thrown as AosError).code).toBe('ERR_DECODE');
}

/** A deterministic PRNG (mulberry32) so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('envelope codec', () => {
  test('envelope - round trip keeps every field', () => {
    const env = sample();
    const back = decodeEnvelope(encodeEnvelope(env));
    expect({ ...back, payload: Array.from(back.payload) }).toEqual({ ...env, payload: Array.from(env.payload) });
  });

  test('envelope - round trip without optional fields leaves them absent', () => {
    const { deadline: _d, error: _e, ...rest } = sample({ causationId: null, format: 'msgpack', kind: 'tell', attempt: 0 });
    const env: Envelope = rest;
    const back = decodeEnvelope(encodeEnvelope(env));
    expect(back).not.toHaveProperty('deadline');
    expect(back).not.toHaveProperty('error');
    expect(back.causationId).toBeNull();
    expect(back.format).toBe('msgpack');
    expect(back.kind).toBe('tell');
    expect(back.attempt).toBe(0);
    expect(back.payload).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.payload)).toEqual(Array.from(env.payload));
  });

  test('envelope - every kind survives a round trip', () => {
    for (const kind of ['tell', 'ask', 'reply', 'task', 'event'] as const) {
      expect(decodeEnvelope(encodeEnvelope(sample({ kind }))).kind).toBe(kind);
    }
  });

  test('envelope - empty payload survives a round trip', () => {
    const back = decodeEnvelope(encodeEnvelope(sample({ payload: new Uint8Array() })));
    expect(back.payload).toBeInstanceOf(Uint8Array);
    expect(back.payload.length).toBe(0);
  });

  test('envelope - wire form is a plain 13-element array starting with version 1', () => {
    const arr = wireArray(sample());
    expect(Array.isArray(arr)).toBe(true);
    expect(arr).toHaveLength(13);
    expect(arr[0]).toBe(1);
    expect(arr[1]).toBe('ask');
    expect(arr[2]).toBe('0123456789abcdef');
  });

  test('envelope - traceparentOf derives the W3C header from correlationId and id', () => {
    expect(traceparentOf(sample())).toBe('00-0123456789abcdef0123456789abcdef-0123456789abcdef-01');
  });

  test('envelope - truncation at every byte offset is ERR_DECODE', () => {
    const bytes = encodeEnvelope(sample());
    for (let cut = 0; cut < bytes.length; cut++) expectDecodeError(bytes.slice(0, cut));
  });

  test('envelope - trailing bytes after a valid envelope are ERR_DECODE', () => {
    const bytes = encodeEnvelope(sample());
    expectDecodeError(Uint8Array.from([...bytes, 0x01]));
  });

  test('envelope - garbage bytes are ERR_DECODE, never another exception', () => {
    const rnd = prng(42);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256));
      expectDecodeError(bytes);
    }
    for (const b of [[], [0xc1], [0xff], [0x90], [0xdd, 0xff, 0xff, 0xff, 0xff]]) expectDecodeError(Uint8Array.from(b));
  });

  test('envelope - valid msgpack that is not an envelope is ERR_DECODE', () => {
    for (const v of [null, 1, 'envelope', true, { kind: 'ask' }, [], new Uint8Array(13)]) expectDecodeError(packr.pack(v));
  });

  test('envelope - wrong version is ERR_DECODE', () => {
    for (const version of [0, 2, '1', null]) {
      const arr = wireArray(sample());
      arr[0] = version;
      expectDecodeError(packr.pack(arr));
    }
  });

  test('envelope - wrong arity is ERR_DECODE', () => {
    const arr = wireArray(sample());
    expectDecodeError(packr.pack(arr.slice(0, 12)));
    expectDecodeError(packr.pack([...arr, null, null]));
  });

  test('seal - a sealed envelope verifies with its key and decodes to the same fields', () => {
    const key = new TextEncoder().encode('a-cluster-key-of-test');
    const env = sample();
    const sealed = encodeEnvelope(env, key);
    expect(envelopeSealed(sealed, key)).toBe(true);
    const plain = (e: Envelope) => ({ ...e, payload: [...e.payload] });
    expect(plain(decodeEnvelope(sealed))).toEqual(plain(decodeEnvelope(encodeEnvelope(env))));
  });

  test('seal - an unsealed envelope, another key, or any changed byte fails the check', () => {
    const key = new TextEncoder().encode('a-cluster-key-of-test');
    const sealed = encodeEnvelope(sample(), key);
    expect(envelopeSealed(encodeEnvelope(sample()), key)).toBe(false);
    expect(envelopeSealed(sealed, new TextEncoder().encode('another-key-entirely'))).toBe(false);
    for (let i = 1; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i] = tampered[i]! ^ 0x01;
      expect(envelopeSealed(tampered, key), `byte ${i} flipped`).toBe(false);
    }
    expect(envelopeSealed(sealed.subarray(0, sealed.length - 1), key)).toBe(false);
    expect(envelopeSealed(new Uint8Array(), key)).toBe(false);
  });

  test('envelope - a wrong type in any field is ERR_DECODE', () => {
    const bad: Record<number, unknown[]> = {
      1: ['bogus', 1, null, ''],
      2: [5, null, ''],
      3: [5, null, ''],
      4: [5, null, ''],
      5: [5, null, ''],
      6: [5, {}, true],
      7: ['now', null],
      8: ['later', {}],
      9: [-1, 1.5, 'x', null],
      10: [2, 'json', null],
      11: ['payload', 5, null, [1, 2]],
      12: ['oops', 5, { message: 'no code' }, { code: 5 }],
    };
    for (const [field, values] of Object.entries(bad)) {
      for (const v of values) {
        const arr = wireArray(sample());
        arr[Number(field)] = v;
        let thrown: unknown;
        try {
          decodeEnvelope(packr.pack(arr));
        } catch (err) {
          thrown = err;
        }
        expect(thrown, `field ${field} = ${JSON.stringify(v)}`).toBeInstanceOf(AosError);
        expect((thrown as AosError).code, `field ${field} = ${JSON.stringify(v)}`).toBe('ERR_DECODE');
      }
    }
  });
});

describe('value codec', () => {
  const values: unknown[] = [null, 0, -1.5, 'héllo ✓', true, [1, 'two', null], { a: { b: [1, 2, { c: 'd' }] }, e: false }];

  test('value codec - json round trip', () => {
    for (const v of values) expect(decodeValue(encodeValue(v, 'json'), 'json')).toEqual(v);
  });

  test('value codec - msgpack round trip', () => {
    for (const v of values) expect(decodeValue(encodeValue(v, 'msgpack'), 'msgpack')).toEqual(v);
  });

  test('value codec - undefined encodes as null in both formats', () => {
    expect(decodeValue(encodeValue(undefined, 'json'), 'json')).toBeNull();
    expect(decodeValue(encodeValue(undefined, 'msgpack'), 'msgpack')).toBeNull();
  });

  test('value codec - json is plain UTF-8 JSON text', () => {
    expect(new TextDecoder().decode(encodeValue({ a: 1 }, 'json'))).toBe('{"a":1}');
  });

  test('value codec - bad JSON is ERR_DECODE', () => {
    for (const text of ['{', '', 'undefined', "{'a':1}", '[1,]', '{"a":1}x']) {
      let thrown: unknown;
      try {
        decodeValue(new TextEncoder().encode(text), 'json');
      } catch (err) {
        thrown = err;
      }
      expect(thrown, text).toBeInstanceOf(AosError);
      expect((thrown as AosError).code).toBe('ERR_DECODE');
    }
  });

  test('value codec - invalid UTF-8 in a JSON body is ERR_DECODE', () => {
    let thrown: unknown;
    try {
      decodeValue(Uint8Array.of(0x22, 0xff, 0xfe, 0x22), 'json');
    } catch (err) {
      thrown = err;
    }
    expect((thrown as AosError).code).toBe('ERR_DECODE');
  });

  test('value codec - truncated msgpack is ERR_DECODE at every cut', () => {
    const bytes = encodeValue({ name: 'actor', list: [1, 2, 3, 'four'], nested: { deep: 'value' } }, 'msgpack');
    for (let cut = 0; cut < bytes.length; cut++) {
      let thrown: unknown;
      try {
        decodeValue(bytes.slice(0, cut), 'msgpack');
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `cut at ${cut}`).toBeInstanceOf(AosError);
      expect((thrown as AosError).code).toBe('ERR_DECODE');
    }
  });

  test('value codec - the reserved msgpack byte 0xc1 is ERR_DECODE', () => {
    // 0xc1 is "never used" in the msgpack spec; a decoder must not turn it into a value.
    let thrown: unknown;
    let value: unknown;
    try {
      value = decodeValue(Uint8Array.of(0xc1), 'msgpack');
    } catch (err) {
      thrown = err;
    }
    expect(thrown, `decoded as ${JSON.stringify(value)}`).toBeInstanceOf(AosError);
    expect((thrown as AosError).code).toBe('ERR_DECODE');
  });
});
