// Synchronisation for tests without sleeps: a deferred value that a test awaits with a
// deadline (the deadline only turns a hang into a clear failure; nothing waits on time).

export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  resolve(value: T): void;
  reject(err: unknown): void;
  /** Waits for the value; rejects with `what` in the message if it has not come within `ms`. */
  wait(ms?: number, what?: string): Promise<T>;
}

export const DEFAULT_DEADLINE_MS = 10_000;

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a rejection nobody waits for is not an unhandled one
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve(v) {
      settled = true;
      resolve(v);
    },
    reject(e) {
      settled = true;
      reject(e);
    },
    wait(ms = DEFAULT_DEADLINE_MS, what = 'event') {
      return withDeadline(promise, ms, what);
    },
  };
}

/** Rejects if `p` has not settled within `ms` (a guard against hangs, not a wait). */
export function withDeadline<T>(p: Promise<T>, ms = DEFAULT_DEADLINE_MS, what = 'event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline: no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** A latch that opens after `count` calls to `countDown`. */
export class Latch {
  private readonly done = deferred<void>();
  private left: number;

  constructor(count: number) {
    this.left = count;
    if (count <= 0) this.done.resolve();
  }

  get remaining(): number {
    return this.left;
  }

  countDown(): void {
    if (this.left <= 0) return;
    this.left--;
    if (this.left === 0) this.done.resolve();
  }

  wait(ms?: number, what = 'latch'): Promise<void> {
    return this.done.wait(ms, `${what} (${this.left} left)`);
  }
}

/** Marks a promise that the test awaits later as handled, so an early failure elsewhere does
 *  not turn its rejection into an unhandled one. Returns the same promise. */
export function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
