// Payloads in the trace: masking by field paths is pure (a copy, the input untouched), reaches
// nested objects and arrays, and `*` stands for any one key or index; the policy's `trace`
// section is validated, and says which subjects have their payloads recorded (none by default).

import { describe, expect, test } from 'vitest';
import { AosError, parsePolicy } from 'autonomy-os';
import { Policy } from 'autonomy-os/internal';
import { compileMask, maskValue, recordedValue } from 'autonomy-os/internal';

const mask = (value: unknown, ...paths: string[]): unknown => maskValue(value, compileMask(paths));

describe('trace payloads - maskValue', () => {
  test('trace payloads - a top-level path masks that field only, at the top level', () => {
    const value = { user: 'ann', password: 'hunter2', nested: { password: 'kept' } };
    expect(mask(value, 'password')).toEqual({ user: 'ann', password: '***', nested: { password: 'kept' } });
  });

  test('trace payloads - a nested path masks the field it names, whatever its value', () => {
    const value = { card: { number: '4111111111111111', expiry: '12/30' }, secret: { a: 1 } };
    expect(mask(value, 'card.number', 'secret')).toEqual({ card: { number: '***', expiry: '12/30' }, secret: '***' });
  });

  test('trace payloads - a path that matches nothing leaves the value equal', () => {
    const value = { card: 'not an object', list: [1, 2] };
    expect(mask(value, 'card.number', 'missing.deep.path', 'list.5')).toEqual(value);
  });

  test('trace payloads - "*" stands for any one key', () => {
    const value = { a: { email: 'x@y', name: 'x' }, b: { email: 'z@y' }, email: 'top' };
    expect(mask(value, '*.email')).toEqual({ a: { email: '***', name: 'x' }, b: { email: '***' }, email: 'top' });
  });

  test('trace payloads - arrays: "*" for every element, a number for one index', () => {
    const value = { customers: [{ email: 'a@x', id: 1 }, { email: 'b@x', id: 2 }], tokens: ['t0', 't1', 't2'] };
    expect(mask(value, 'customers.*.email', 'tokens.1')).toEqual({
      customers: [
        { email: '***', id: 1 },
        { email: '***', id: 2 },
      ],
      tokens: ['t0', '***', 't2'],
    });
    expect(mask([{ password: 'p' }, { password: 'q' }], '*.password')).toEqual([{ password: '***' }, { password: '***' }]);
  });

  test('trace payloads - the input is never mutated, and the result is a copy', () => {
    const value = { password: 'p', card: { number: '1' }, list: [{ email: 'e' }] };
    const before = structuredClone(value);
    const masked = mask(value, 'password', 'card.number', 'list.*.email') as typeof value;
    expect(value).toEqual(before);
    expect(masked).not.toBe(value);
    expect(masked.card).not.toBe(value.card);
    expect(masked.list).not.toBe(value.list);
    const untouched = { a: { b: 1 } };
    expect(mask(untouched)).not.toBe(untouched);
    expect((mask(untouched) as typeof untouched).a).not.toBe(untouched.a);
  });

  test('trace payloads - non-objects come back unchanged', () => {
    for (const v of ['text', 42, true, null, undefined]) expect(mask(v, 'password', '*')).toBe(v);
    const bytes = new Uint8Array([1, 2]);
    expect(mask(bytes, '0')).toBe(bytes);
  });

  test('trace payloads - a key named "__proto__" stays a plain field', () => {
    const value = JSON.parse('{"__proto__": {"password": "p"}, "ok": 1}') as Record<string, unknown>;
    const masked = mask(value, '__proto__.password') as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(Object.hasOwn(masked, '__proto__')).toBe(true);
    expect(JSON.stringify(masked)).toBe('{"__proto__":{"password":"***"},"ok":1}');
  });

  test('trace payloads - a recorded value is decoded and masked; an undecodable body is recorded as such', () => {
    const json = new TextEncoder().encode(JSON.stringify({ password: 'p', n: 1 }));
    expect(recordedValue({ format: 'json', payload: json }, compileMask(['password']))).toEqual({ password: '***', n: 1 });
    expect(recordedValue({ format: 'json', payload: new TextEncoder().encode('{nope') }, [])).toEqual({ undecodable: true });
    expect(recordedValue({ format: 'msgpack', payload: new Uint8Array([0xc1]) }, [])).toEqual({ undecodable: true });
  });
});

describe('trace payloads - policy', () => {
  const roles = { r: {} };
  const actors = { '*': { role: 'r' } };

  test('trace payloads - without a trace section no subject has its payloads recorded', () => {
    const policy = new Policy(parsePolicy({ roles, actors }), 'aos');
    expect(policy.payloadsFor('aos.task.signup')).toBe(false);
    expect(policy.mask).toEqual([]);
  });

  test('trace payloads - payloadsFor matches the named subject patterns, and mask is compiled', () => {
    const doc = parsePolicy({ roles, actors, trace: { payloads: { subjects: ['aos.task.signup', 'aos.actor.billing.*'] }, mask: ['password', 'customers.*.email'] } });
    const policy = new Policy(doc, 'aos');
    expect(policy.payloadsFor('aos.task.signup')).toBe(true);
    expect(policy.payloadsFor('aos.task.signup')).toBe(true); // cached answer, same result
    expect(policy.payloadsFor('aos.actor.billing.b1')).toBe(true);
    expect(policy.payloadsFor('aos.task.other')).toBe(false);
    expect(policy.payloadsFor('aos.actor.billing.b1.x')).toBe(false);
    expect(policy.mask).toEqual([['password'], ['customers', '*', 'email']]);
    expect(parsePolicy({ roles, actors, trace: {} }).trace).toEqual({ mask: [] });
  });

  test('trace payloads - a bad trace section is refused with ERR_POLICY, each problem by its path', () => {
    const paths = (trace: unknown): string[] => {
      try {
        parsePolicy({ roles, actors, trace });
      } catch (err) {
        expect(err).toBeInstanceOf(AosError);
        expect((err as AosError).code).toBe('ERR_POLICY');
        return ((err as AosError).details['issues'] as { path: string }[]).map((i) => i.path);
      }
      throw new Error('the document was accepted');
    };
    expect(paths({ payloads: { subjects: ['aos..x'] } })).toEqual(['trace.payloads.subjects.0']);
    expect(paths({ payloads: {} })).toEqual(['trace.payloads.subjects']);
    expect(paths({ mask: ['card..number', ''] })).toEqual(['trace.mask.0', 'trace.mask.1']);
    expect(paths({ masks: [] })).toEqual(['trace']);
  });
});
