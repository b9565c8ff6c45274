// The broker's subject-pattern algebra: isSubset (a requested subject or pattern inside a
// granted one) and overlaps (some subject matched by both), as a table of the cases that
// matter, then checked exhaustively against a brute-force oracle of NATS matching.

import { describe, expect, test } from 'vitest';
import { isSubset, overlaps, tokens } from 'autonomy-os/internal';

const sub = (requested: string, granted: string): boolean => isSubset(tokens(requested), tokens(granted));
const ovl = (a: string, b: string): boolean => overlaps(tokens(a), tokens(b));

describe('isSubset', () => {
  // [requested, granted, expected]
  const table: [string, string, boolean][] = [
    // literals
    ['a', 'a', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.b', 'a', false],
    ['a', 'a.b', false],
    ['a.b.c', 'a.b', false],
    // '*' in the grant: exactly one token
    ['a.b', 'a.*', true],
    ['a.*', 'a.*', true],
    ['a', 'a.*', false],
    ['a.b.c', 'a.*', false],
    ['b.x', 'a.*', false],
    ['x.b', '*.b', true],
    ['*.b', '*.b', true],
    ['*.c', '*.b', false],
    ['a.b.c', '*.*.*', true],
    ['*.*', '*.*.*', false],
    // '*' in the request is wider than any literal
    ['a.*', 'a.b', false],
    ['*', 'a', false],
    ['*.b', 'a.b', false],
    // '>' in the grant: one or more trailing tokens
    ['a.b', 'a.>', true],
    ['a.b.c.d', 'a.>', true],
    ['a.*', 'a.>', true],
    ['a.*.c', 'a.>', true],
    ['a.>', 'a.>', true],
    ['a.b.>', 'a.>', true],
    ['a', 'a.>', false],
    ['b.c', 'a.>', false],
    ['a.*.>', 'a.>', true],
    ['a.>', 'a.b.>', false],
    ['a.*.>', 'a.b.>', false],
    // 'a.*' does not grant 'a.>' (which also matches a.b.c)
    ['a.>', 'a.*', false],
    ['a.b.>', 'a.*.*', false],
    ['a.>', 'a.*.>', false],
    ['a.*.>', 'a.*.>', true],
    // '>' alone
    ['a', '>', true],
    ['a.b.c', '>', true],
    ['*', '>', true],
    ['*.>', '>', true],
    ['>', '>', true],
    ['>', '*', false],
    ['>', 'a.>', false],
    ['>', 'a', false],
    ['>', '*.>', false],
    // subjects are case-sensitive
    ['A', 'a', false],
    ['a.B', 'a.b', false],
    ['Aos.x', 'aos.>', false],
    ['aos.X', 'aos.*', true],
  ];
  test.each(table)('isSubset - %s inside %s: %s', (requested, granted, expected) => {
    expect(sub(requested, granted)).toBe(expected);
  });
});

describe('overlaps', () => {
  // [a, b, expected]; every row is also checked the other way round
  const table: [string, string, boolean][] = [
    ['a', 'a', true],
    ['a', 'b', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a', 'a.b', false],
    ['a.b', 'a.b.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.*', true],
    ['a.*', 'b.*', false],
    ['a.*', 'a.b.c', false],
    ['*.b', 'a.*', true],
    ['*', 'a.b', false],
    ['a.*', 'a.>', true],
    ['a.>', 'a.b.c', true],
    ['a.>', 'a', false],
    ['a.>', 'b.>', false],
    ['a.b.>', 'a.c.>', false],
    ['a.*.c', 'a.b.>', true],
    ['a.b.>', 'a.*', false],
    ['*.>', 'a', false],
    ['*.>', 'a.b', true],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['>', '*', true],
    ['>', '>', true],
    ['>', '$SYS.>', true],
    ['A.b', 'a.b', false],
    ['a.*', 'A.b', false],
  ];
  test.each(table)('overlaps - %s and %s: %s', (a, b, expected) => {
    expect(ovl(a, b)).toBe(expected);
    expect(ovl(b, a)).toBe(expected);
  });
});

// A brute-force oracle: every pattern over {a, b, *, >} of 1-3 tokens, every subject over
// {a, b, z} of 1-4 tokens ('z' is a token no pattern names, so '*' can never be covered by a
// literal; 4 tokens is one more than any pattern, so '>' is exercised past every length).
describe('pattern algebra against NATS matching', () => {
  const matches = (pattern: readonly string[], subject: readonly string[]): boolean => {
    for (let i = 0; i < pattern.length; i++) {
      if (pattern[i] === '>') return subject.length > i;
      if (i >= subject.length) return false;
      if (pattern[i] !== '*' && pattern[i] !== subject[i]) return false;
    }
    return subject.length === pattern.length;
  };
  const words = (alphabet: string[], maxLen: number, last: string[] = []): string[][] => {
    const out: string[][] = [];
    let layer: string[][] = [[]];
    for (let len = 1; len <= maxLen; len++) {
      const next: string[][] = [];
      for (const prefix of layer) for (const t of alphabet) next.push([...prefix, t]);
      for (const w of next) out.push(w);
      for (const prefix of layer) for (const t of last) out.push([...prefix, t]);
      layer = next;
    }
    return out;
  };
  const patterns = words(['a', 'b', '*'], 3, ['>']);
  const subjects = words(['a', 'b', 'z'], 4);

  test('oracle - the pattern set is complete (52 patterns, 120 subjects)', () => {
    expect(patterns).toHaveLength(52);
    expect(subjects).toHaveLength(120);
  });

  test('isSubset - agrees with "every subject the request matches, the grant matches" for every pair', () => {
    const wrong: string[] = [];
    for (const r of patterns) {
      const mr = subjects.filter((s) => matches(r, s));
      for (const g of patterns) {
        const expected = mr.every((s) => matches(g, s));
        if (isSubset(r, g) !== expected) wrong.push(`${r.join('.')} in ${g.join('.')}: expected ${expected}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('overlaps - agrees with "some subject matches both" for every pair', () => {
    const wrong: string[] = [];
    for (const a of patterns) {
      for (const b of patterns) {
        const expected = subjects.some((s) => matches(a, s) && matches(b, s));
        if (overlaps(a, b) !== expected) wrong.push(`${a.join('.')} and ${b.join('.')}: expected ${expected}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('isSubset - a literal subject is inside a pattern exactly when the pattern matches it', () => {
    for (const s of subjects) for (const g of patterns) expect(isSubset(s, g), `${s.join('.')} in ${g.join('.')}`).toBe(matches(g, s));
  });
});

describe('tokens', () => {
  test('tokens - split on dots, case kept', () => {
    expect(tokens('aos.Task.>')).toEqual(['aos', 'Task', '>']);
    expect(tokens('a')).toEqual(['a']);
  });
});
