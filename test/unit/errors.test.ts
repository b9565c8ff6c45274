import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { AosError, ConfigError, DeliveryError, ERROR_CODES, InputError, TurnError, type ErrorCode } from 'autonomy-os';
import { aosError, fromWire, toAosError } from 'autonomy-os/internal';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe('errors', () => {
  test('errors - every code survives toWire/fromWire with its details', () => {
    for (const code of CODES) {
      const details = { actorId: 'a/b', nested: { n: 1 }, list: [1, 2] };
      const err = aosError(code, `message for ${code}`, details);
      const wire = JSON.parse(JSON.stringify(err.toWire())) as unknown;
      const back = fromWire(wire);
      expect(back).toBeInstanceOf(AosError);
      expect(back.code).toBe(code);
      expect(back.details).toEqual(details);
      expect(back.message).toBe(err.message);
      expect(back.constructor).toBe(err.constructor);
    }
  });

  test('errors - toWire leaves out empty details and the stack unless asked', () => {
    const err = aosError('ERR_TIMEOUT', 'late');
    expect(err.toWire()).toEqual({ code: 'ERR_TIMEOUT', message: 'late' });
    expect(err.toWire(true).stack).toEqual(expect.any(String));
    expect(JSON.parse(JSON.stringify(err))).toEqual({ code: 'ERR_TIMEOUT', message: 'late' });
  });

  test('errors - a stack that crossed the wire is kept', () => {
    const back = fromWire({ code: 'ERR_HANDLER_FAILED', message: 'x', stack: 'Error: x\n    at handler (actor.ts:1:1)' });
    expect(back.stack).toBe('Error: x\n    at handler (actor.ts:1:1)');
  });

  test('errors - an unknown code becomes ERR_INTERNAL and keeps the original code', () => {
    const back = fromWire({ code: 'ERR_FROM_THE_FUTURE', message: 'new', details: { a: 1 } });
    expect(back.code).toBe('ERR_INTERNAL');
    expect(back.details).toEqual({ a: 1, originalCode: 'ERR_FROM_THE_FUTURE' });
    expect(back.message).toBe('new');
  });

  test('errors - a malformed wire error becomes ERR_INTERNAL', () => {
    for (const w of [null, undefined, 'ERR_TIMEOUT', 42, [], {}]) {
      const back = fromWire(w);
      expect(back).toBeInstanceOf(AosError);
      expect(back.code, JSON.stringify(w)).toBe('ERR_INTERNAL');
    }
  });

  test('errors - codes belong to their family', () => {
    expect(aosError('ERR_DECODE', 'x')).toBeInstanceOf(InputError);
    expect(aosError('ERR_INPUT_SCHEMA', 'x')).toBeInstanceOf(InputError);
    expect(aosError('ERR_MAILBOX_FULL', 'x')).toBeInstanceOf(DeliveryError);
    expect(aosError('ERR_UNKNOWN_ACTOR', 'x')).toBeInstanceOf(DeliveryError);
    expect(aosError('ERR_HANDLER_FAILED', 'x')).toBeInstanceOf(TurnError);
    expect(aosError('ERR_CONFIG', 'x')).toBeInstanceOf(ConfigError);
    expect(aosError('ERR_ACTOR_MODULE', 'x')).toBeInstanceOf(ConfigError);
    for (const code of CODES) expect(aosError(code, 'x')).toBeInstanceOf(Error);
  });

  test('errors - toAosError keeps AosErrors and wraps anything else with the cause', () => {
    const original = aosError('ERR_TIMEOUT', 'late');
    expect(toAosError(original)).toBe(original);
    const cause = new TypeError('boom');
    const wrapped = toAosError(cause, 'ERR_HANDLER_FAILED', { actorId: 'a/b' });
    expect(wrapped.code).toBe('ERR_HANDLER_FAILED');
    expect(wrapped.details).toEqual({ actorId: 'a/b' });
    expect(wrapped.cause).toBe(cause);
    expect(toAosError('a string').code).toBe('ERR_INTERNAL');
  });

  test('errors - the README error table lists exactly the catalogue codes', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = new Set<string>();
    for (const line of readme.split('\n')) {
      const m = /^\|\s*`(ERR_[A-Z0-9_]+)`/.exec(line);
      if (m !== null) documented.add(m[1]!);
    }
    const catalogue = new Set<string>(CODES);
    expect([...catalogue].filter((c) => !documented.has(c)), 'codes missing from the README table').toEqual([]);
    expect([...documented].filter((c) => !catalogue.has(c)), 'README codes not in the catalogue').toEqual([]);
  });
});
