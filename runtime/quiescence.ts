// When a node has nothing left to do. Operations in progress (spawns, stops, restarts) and
// batches in flight keep it busy; waiters re-check their condition whenever something ends,
// so `whenIdle()`, a stop waiting for a turn, and shutdown synchronise on events, not time.

export class Quiescence {
  /** Bumped by every message received or settled: a wait that saw it change looks again. */
  activity = 0;
  private pending = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly dispatcherIdle: () => boolean) {}

  get idle(): boolean {
    return this.dispatcherIdle() && this.pending === 0;
  }

  /** Runs an operation that keeps the node busy until it ends. */
  async during<T>(op: () => Promise<T>): Promise<T> {
    this.pending++;
    try {
      return await op();
    } finally {
      this.pending--;
      this.wake();
    }
  }

  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (predicate()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Lets every waiter re-check its condition (after a batch settles or an operation ends). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
