import { describe, expect, test } from 'vitest';
import { AosError } from 'autonomy-os';
import { assertSubject, MAX_SUBJECT_LENGTH, subjectProblem, Subjects } from 'autonomy-os/internal';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AosError);
    return (err as AosError).code;
  }
  return undefined;
}

describe('subject validation', () => {
  test('subjects - well-formed publish subjects pass', () => {
    for (const s of ['a', 'aos.task.echo', 'a.b-c.d_e.F9', 'aos.evt.ünï.cödé', 'x'.repeat(MAX_SUBJECT_LENGTH)]) {
      expect(subjectProblem(s), s).toBeUndefined();
      expect(assertSubject(s)).toBe(s);
    }
  });

  test('subjects - empty subject and empty tokens are rejected', () => {
    for (const s of ['', '.', 'a.', '.a', 'a..b', 'a...']) {
      expect(subjectProblem(s), JSON.stringify(s)).toEqual(expect.any(String));
      expect(codeOf(() => assertSubject(s))).toBe('ERR_INVALID_SUBJECT');
    }
  });

  test('subjects - whitespace and control characters are rejected', () => {
    for (const s of ['a b', 'a\tb', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb', 'a\u0085b', 'a\u00a0b', ' a', 'a ']) {
      expect(codeOf(() => assertSubject(s)), JSON.stringify(s)).toBe('ERR_INVALID_SUBJECT');
      expect(codeOf(() => assertSubject(s, { wildcards: true })), JSON.stringify(s)).toBe('ERR_INVALID_SUBJECT');
    }
  });

  test('subjects - longer than the maximum is rejected', () => {
    expect(codeOf(() => assertSubject('x'.repeat(MAX_SUBJECT_LENGTH + 1)))).toBe('ERR_INVALID_SUBJECT');
  });

  test('subjects - wildcards are rejected in publish subjects', () => {
    for (const s of ['*', '>', 'a.*', 'a.>', 'a.*.b']) expect(codeOf(() => assertSubject(s)), s).toBe('ERR_INVALID_SUBJECT');
  });

  test('subjects - wildcard patterns are allowed only when asked for', () => {
    for (const s of ['*', '>', 'a.*', 'a.>', 'a.*.b', '*.*.>']) {
      expect(subjectProblem(s, { wildcards: true }), s).toBeUndefined();
      expect(assertSubject(s, { wildcards: true })).toBe(s);
    }
  });

  test("subjects - '>' is allowed only as the last token", () => {
    for (const s of ['>.a', 'a.>.b', '>.>']) expect(codeOf(() => assertSubject(s, { wildcards: true })), s).toBe('ERR_INVALID_SUBJECT');
  });

  test('subjects - tokens mixing a wildcard with other characters are rejected', () => {
    for (const s of ['a*', 'a.b*', 'a.*b', 'a.>b', 'a.b>', '**', 'a.*>']) {
      expect(codeOf(() => assertSubject(s, { wildcards: true })), s).toBe('ERR_INVALID_SUBJECT');
    }
  });

  test('subjects - case is preserved, never normalised', () => {
    expect(assertSubject('AOS.Task.Echo')).toBe('AOS.Task.Echo');
    expect(new Subjects('Ns').task('Echo')).toBe('Ns.task.Echo');
    expect(new Subjects('ns').task('ECHO')).not.toBe(new Subjects('ns').task('echo'));
  });

  test('subjects - non-string subjects are ERR_INVALID_SUBJECT', () => {
    for (const s of [undefined, null, 5, {}]) expect(codeOf(() => assertSubject(s))).toBe('ERR_INVALID_SUBJECT');
  });
});

describe('Subjects mapping', () => {
  test('Subjects - default namespace is aos', () => {
    const s = new Subjects();
    expect(s.prefix).toBe('aos');
    expect(s.actor({ type: 'echo', key: 'one' })).toBe('aos.actor.echo.one');
  });

  test('Subjects - every concept maps under a custom namespace', () => {
    const s = new Subjects('tenant1');
    expect(s.actor({ type: 'echo', key: 'one' })).toBe('tenant1.actor.echo.one');
    expect(s.task('echo')).toBe('tenant1.task.echo');
    expect(s.task('jobs.render')).toBe('tenant1.task.jobs.render');
    expect(s.event('news')).toBe('tenant1.evt.news');
    expect(s.trace('n1')).toBe('tenant1.trace.n1');
    expect(s.control('n1', 'list')).toBe('tenant1.ctl.n1.list');
    expect(s.controlAll('ping')).toBe('tenant1.ctl.*.ping');
    expect(s.approval('a1')).toBe('tenant1.approval.a1');
    expect(s.dead('echo')).toBe('tenant1.dead.echo');
    expect(s.queueGroup('echo')).toBe('tenant1.q.echo');
  });

  test('Subjects - a task given with its full subject is not prefixed twice', () => {
    const s = new Subjects('ns');
    expect(s.task('ns.task.echo')).toBe('ns.task.echo');
    expect(s.event('ns.evt.news')).toBe('ns.evt.news');
    // another namespace's subject is a topic under this one
    expect(s.task('other.task.echo')).toBe('ns.task.other.task.echo');
  });

  test('Subjects - task patterns may use wildcards, malformed topics may not pass', () => {
    const s = new Subjects('ns');
    expect(s.task('jobs.*')).toBe('ns.task.jobs.*');
    expect(s.task('>')).toBe('ns.task.>');
    expect(codeOf(() => s.task('a..b'))).toBe('ERR_INVALID_SUBJECT');
    expect(codeOf(() => s.task('a b'))).toBe('ERR_INVALID_SUBJECT');
    expect(codeOf(() => s.task('>.a'))).toBe('ERR_INVALID_SUBJECT');
  });

  test('Subjects - isTask recognises only task subjects of its namespace', () => {
    const s = new Subjects('ns');
    expect(s.isTask('ns.task.echo')).toBe(true);
    expect(s.isTask('ns.evt.echo')).toBe(false);
    expect(s.isTask('other.task.echo')).toBe(false);
    expect(s.isTask('ns.task')).toBe(false);
  });

  test('Subjects - a namespace that is not a single safe token is ERR_INVALID_ID', () => {
    for (const ns of ['', 'a.b', 'a*', 'a b', '>']) expect(codeOf(() => new Subjects(ns)), ns).toBe('ERR_INVALID_ID');
  });
});
