// What every scenario process shares: its arguments, the warm-up-then-median-of-3 schedule
// (baseline and candidate interleaved, so background noise falls on both), deadlines that
// turn a hang into an error, and a main() that exits non-zero on any failure.

import { median, systemLine } from './report.js';

export const WARMUP_ROUNDS = 1;
export const MEASURED_ROUNDS = 3;

/** `--nats <url>` from run.js. Only a loopback server is accepted: the bench sends no traffic elsewhere. */
export function natsUrlFromArgs(argv = process.argv.slice(2)) {
  const i = argv.indexOf('--nats');
  const url = i >= 0 ? argv[i + 1] : undefined;
  if (url === undefined) throw new Error('usage: node bench/scenarios/<name>.js --nats nats://127.0.0.1:<port>');
  const { hostname, port } = new URL(url);
  if (hostname !== '127.0.0.1' && hostname !== 'localhost') throw new Error(`refusing non-loopback NATS url ${url}`);
  if (port === '4222') throw new Error('refusing port 4222: the bench runs on its own nats-server');
  return url;
}

/** Rejects with a named error if `promise` is not settled within `ms`. */
export function withDeadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `sides` (an object of name -> async () => number, or -> async () => {metric: number})
 * for WARMUP_ROUNDS unmeasured and MEASURED_ROUNDS measured rounds, interleaved, and returns
 * the median per side (per metric when a side returns an object).
 */
export async function compare(sides, { deadlineMs = 20_000 } = {}) {
  const names = Object.keys(sides);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
    for (const name of names) {
      const value = await withDeadline(sides[name](), deadlineMs, `${name} round ${round}`);
      if (round >= WARMUP_ROUNDS) samples[name].push(value);
    }
  }
  return Object.fromEntries(names.map((n) => [n, medianOf(samples[n])]));
}

function medianOf(rounds) {
  if (typeof rounds[0] === 'number') return median(rounds);
  return Object.fromEntries(Object.keys(rounds[0]).map((k) => [k, median(rounds.map((r) => r[k]))]));
}

/** Prints the system line, runs `body` (which prints rows), and exits 0 or 1. */
export function main(body) {
  console.log(systemLine());
  body().then(
    () => process.exit(0),
    (err) => {
      console.error(err?.stack ?? String(err));
      process.exit(1);
    },
  );
}
