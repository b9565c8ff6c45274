import { describe, expect, test } from 'vitest';
import { AosError } from 'autonomy-os';
import { Mailbox } from 'autonomy-os/internal';

describe('Mailbox', () => {
  test('Mailbox - items come out in the order they went in', () => {
    const m = new Mailbox<number>(10);
    for (let i = 0; i < 5; i++) expect(m.offer(i)).toEqual({ accepted: true });
    expect(m.size).toBe(5);
    expect([m.shift(), m.shift(), m.shift(), m.shift(), m.shift()]).toEqual([0, 1, 2, 3, 4]);
    expect(m.shift()).toBeUndefined();
    expect(m.size).toBe(0);
  });

  test("Mailbox - 'reject' refuses past capacity and returns the refused item", () => {
    const m = new Mailbox<string>(2, 'reject');
    m.offer('a');
    m.offer('b');
    expect(m.offer('c')).toEqual({ accepted: false, rejected: 'c' });
    expect(m.size).toBe(2);
    expect(m.drain()).toEqual(['a', 'b']);
  });

  test("Mailbox - 'drop-oldest' evicts the oldest and returns it", () => {
    const m = new Mailbox<string>(2, 'drop-oldest');
    m.offer('a');
    m.offer('b');
    expect(m.offer('c')).toEqual({ accepted: true, evicted: 'a' });
    expect(m.offer('d')).toEqual({ accepted: true, evicted: 'b' });
    expect(m.size).toBe(2);
    expect(m.drain()).toEqual(['c', 'd']);
  });

  test('Mailbox - the default policy is reject', () => {
    const m = new Mailbox<number>(1);
    expect(m.overflow).toBe('reject');
    m.offer(1);
    expect(m.offer(2).accepted).toBe(false);
  });

  test('Mailbox - take removes up to max from the front', () => {
    const m = new Mailbox<number>(100);
    for (let i = 0; i < 10; i++) m.offer(i);
    expect(m.take(3)).toEqual([0, 1, 2]);
    expect(m.take(0)).toEqual([]);
    expect(m.size).toBe(7);
    expect(m.take(100)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(m.take(5)).toEqual([]);
  });

  test('Mailbox - drain empties it and returns everything in order', () => {
    const m = new Mailbox<number>(100);
    for (let i = 0; i < 7; i++) m.offer(i);
    expect(m.drain()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(m.size).toBe(0);
    expect(m.drain()).toEqual([]);
  });

  test('Mailbox - unshiftAll puts items back at the front in their order', () => {
    const m = new Mailbox<number>(10);
    for (const i of [1, 2, 3, 4, 5]) m.offer(i);
    const taken = m.take(3);
    m.unshiftAll(taken);
    expect(m.drain()).toEqual([1, 2, 3, 4, 5]);
    m.offer(9);
    m.unshiftAll([7, 8]);
    expect(m.drain()).toEqual([7, 8, 9]);
  });

  test('Mailbox - unshiftAll may exceed capacity; later offers still obey it', () => {
    const m = new Mailbox<number>(2);
    m.offer(3);
    m.offer(4);
    m.unshiftAll([1, 2]);
    expect(m.size).toBe(4);
    expect(m.offer(5)).toEqual({ accepted: false, rejected: 5 });
    expect(m.drain()).toEqual([1, 2, 3, 4]);
  });

  test('Mailbox - grows past its initial array and keeps order across wrap-around', () => {
    const m = new Mailbox<number>(10_000);
    let next = 0;
    let expected = 0;
    // interleave pushes and shifts so the ring wraps before and after every growth
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 40; i++) m.offer(next++);
      for (let i = 0; i < 25; i++) expect(m.shift()).toBe(expected++);
    }
    expect(m.size).toBe(next - expected);
    m.unshiftAll([-3, -2, -1]);
    const rest = m.drain();
    expect(rest.slice(0, 3)).toEqual([-3, -2, -1]);
    expect(rest.slice(3)).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
  });

  test('Mailbox - unshiftAll grows a full ring', () => {
    const m = new Mailbox<number>(1000);
    for (let i = 0; i < 64; i++) m.offer(i + 200);
    m.take(10);
    for (let i = 0; i < 10; i++) m.offer(i + 264);
    m.unshiftAll(Array.from({ length: 100 }, (_, i) => i));
    const all = m.drain();
    expect(all).toHaveLength(164);
    expect(all).toEqual([...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 64 }, (_, i) => i + 210)]);
  });

  test('Mailbox - capacity must be a positive integer (ERR_CONFIG)', () => {
    for (const c of [0, -1, 1.5, Number.NaN]) {
      let thrown: unknown;
      try {
        new Mailbox<number>(c);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, String(c)).toBeInstanceOf(AosError);
      expect((thrown as AosError).code).toBe('ERR_CONFIG');
    }
  });
});
