// The kernel's side of the limit on memory outside the V8 heap: a worker that reports more
// than `maxWorkerExternalBytes` (runtime/worker/memory-watch.ts) is terminated, with one log
// record, and the batches it was running fail with ERR_MEMORY_LIMIT instead of ERR_WORKER_DIED.

import type { Logger } from 'pino';
import { AosError, aosError } from './errors/aos-error.js';

export interface MemoryReport {
  threadId: number;
  externalBytes: number;
  limit: number;
}

export class MemoryWatchdog {
  /** Workers terminated for memory. One entry per termination (rare), kept for the node's life:
   *  each batch of the worker looks it up when piscina fails it, in no known order. */
  private readonly terminated = new Map<number, MemoryReport>();

  constructor(
    /** The node's limit (0: off); a report under it is ignored. */
    readonly limit: number,
    private readonly terminate: (threadId: number) => void,
    private readonly log: Logger,
  ) {}

  /** A worker says its memory outside the heap is over the limit: terminate it, once. */
  exceeded(threadId: number, externalBytes: number): void {
    if (this.limit <= 0 || externalBytes <= this.limit || this.terminated.has(threadId)) return;
    const report: MemoryReport = { threadId, externalBytes, limit: this.limit };
    this.terminated.set(threadId, report);
    this.log.error({ code: 'ERR_MEMORY_LIMIT', ...report }, 'worker terminated: memory outside the V8 heap over maxWorkerExternalBytes');
    this.terminate(threadId);
  }

  /** The error for a task that failed on `threadId`: ERR_MEMORY_LIMIT if the worker was terminated for memory, else `cause` itself. */
  failure(threadId: number, cause: unknown): unknown {
    const report = this.terminated.get(threadId);
    if (report === undefined) return cause;
    return aosError('ERR_MEMORY_LIMIT', `worker ${threadId} held ${report.externalBytes} bytes outside the V8 heap (limit ${report.limit}) and was terminated`, { ...report }, cause);
  }
}

/** The report behind a batch failure, when its worker was terminated for memory. */
export function memoryReportOf(cause: unknown): MemoryReport | undefined {
  if (!(cause instanceof AosError) || cause.code !== 'ERR_MEMORY_LIMIT') return undefined;
  const { threadId, externalBytes, limit } = cause.details;
  if (typeof threadId !== 'number' || typeof externalBytes !== 'number' || typeof limit !== 'number') return undefined;
  return { threadId, externalBytes, limit };
}
