// The two measuring loops, shared by baseline and candidate so both are timed the same way:
// a closed loop with a fixed number of calls in flight, and a one-at-a-time loop.

import { percentile } from './report.js';

/** Keeps `concurrency` calls of `call()` in flight until `total` have completed; resolves with calls per second. */
export async function throughput(call, total, concurrency) {
  let started = 0;
  const lane = async () => {
    while (started < total) {
      started++;
      await call();
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return total / seconds;
}

/** Runs `total` calls one at a time; resolves with p50 and p99 in microseconds. */
export async function latency(call, total) {
  const us = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    us[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  us.sort();
  return { p50: percentile(us, 50), p99: percentile(us, 99) };
}
