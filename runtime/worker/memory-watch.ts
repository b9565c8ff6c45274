// Samples this worker's memory outside the V8 heap (ArrayBuffers, Buffers: V8's isolate-local
// `external_memory`, which `resourceLimits` does not bound) and reports the first sample over
// the limit once. The kernel then terminates the worker (runtime/memory-watchdog.ts).

import { getHeapStatistics } from 'node:v8';

export const SAMPLE_PERIOD_MS = 100;
// Taken when the worker starts, before any actor module loads and could replace node:v8's export.
const sample = getHeapStatistics;

/**
 * Starts sampling; `report` is called once, with the bytes seen, when they exceed `limit`.
 * A limit of 0 turns it off. The timer is unref'd: it never keeps an idle worker alive.
 * It runs on the worker's event loop, so a turn that allocates in a synchronous loop is not
 * seen until it yields (its turn time limit ends it).
 */
export function watchExternalMemory(limit: number, report: (externalBytes: number) => void, periodMs = SAMPLE_PERIOD_MS): void {
  if (limit <= 0) return;
  const timer = setInterval(() => {
    const externalBytes = sample().external_memory;
    if (externalBytes <= limit) return;
    clearInterval(timer);
    report(externalBytes);
  }, periodMs);
  timer.unref();
}
