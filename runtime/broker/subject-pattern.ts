// NATS subject-pattern algebra for the broker: does a subject (or a subscription pattern)
// lie inside a granted pattern, and do two patterns overlap. Exact NATS semantics: tokens
// split on '.', '*' is one token, '>' one or more trailing tokens, case-sensitive.

/** The tokens of a valid subject or pattern (validate with `subjectProblem` first). */
export function tokens(subject: string): string[] {
  return subject.split('.');
}

/**
 * True when every subject `requested` can match is also matched by `granted`: a literal
 * subject inside a pattern, or a narrower pattern inside a wider one. `a.*` does not
 * contain `a.>` (which matches `a.b.c`), and nothing but `>` contains `>`.
 */
export function isSubset(requested: readonly string[], granted: readonly string[]): boolean {
  for (let i = 0; i < granted.length; i++) {
    const g = granted[i]!;
    const r = requested[i];
    if (r === undefined) return false;
    if (g === '>') return true;
    if (r === '>') return false;
    if (g === '*') continue;
    if (r === '*' || r !== g) return false;
  }
  return requested.length === granted.length;
}

/** True when some subject is matched by both patterns (a deny pattern that overlaps a subscription wins). */
export function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === '>' || y === '>') return true;
    if (x === '*' || y === '*') continue;
    if (x !== y) return false;
  }
  return a.length === b.length;
}

/** A compiled list of patterns, kept with their source text for decision records. */
export interface PatternList {
  readonly source: readonly string[];
  readonly compiled: readonly (readonly string[])[];
}

export function patternList(source: readonly string[]): PatternList {
  return { source, compiled: source.map(tokens) };
}

/** Index of the first pattern that contains `requested`, or -1. */
export function firstContaining(list: PatternList, requested: readonly string[]): number {
  for (let i = 0; i < list.compiled.length; i++) if (isSubset(requested, list.compiled[i]!)) return i;
  return -1;
}

/** Index of the first pattern that overlaps `requested`, or -1. */
export function firstOverlapping(list: PatternList, requested: readonly string[]): number {
  for (let i = 0; i < list.compiled.length; i++) if (overlaps(requested, list.compiled[i]!)) return i;
  return -1;
}
