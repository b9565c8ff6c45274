// failover-gap: what a steady client sees when one of two nodes serving a task dies. Two
// nodes run as separate processes (bench/actors/run-echo-node.mjs), each with an echo actor
// on `<ns>.task.echo` (one queue group: NATS spreads requests over both). A client in this
// process sends JSON requests one at a time, each with a 2 s timeout. Candidate: after
// REPLIES replies, one node is SIGKILLed while a request is in flight; measured is the
// longest wait for a reply from the kill until REPLIES more have arrived (the failover gap),
// and the timeouts and error replies in that window. Baseline: the same client and nodes,
// no kill: the longest wait among REPLIES replies. Fresh nodes each round; median of rounds.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { ERROR_HEADER } from 'autonomy-os/internal';
import { main, natsUrlFromArgs, withDeadline } from '../lib/harness.js';
import { median, row } from '../lib/report.js';

const SCENARIO = 'failover-gap';
const ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 3);
const REPLIES = Number(process.env.BENCH_FAILOVER_REPLIES ?? 500);
const WARMUP_REPLIES = 200;
const REQUEST_TIMEOUT_MS = 2_000;
const NODE_START_MS = 20_000;
const ROUND_DEADLINE_MS = 25_000;
const NODE_SCRIPT = fileURLToPath(new URL('../actors/run-echo-node.mjs', import.meta.url));

const token = () => randomBytes(4).toString('hex');
const nowMs = () => performance.now();

/** Starts a node process; resolves once it printed its ready line. */
function startNode(url, namespace, nodeId) {
  const child = spawn(process.execPath, [NODE_SCRIPT, url, namespace, nodeId], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => line === `ready ${nodeId}` && resolve());
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`node ${nodeId} exited (${signal ?? code}) before it was ready`)));
  });
  return { nodeId, child, exited, ready: withDeadline(ready, NODE_START_MS, `node ${nodeId} start`) };
}

/** Ends a node cleanly (stdin closed), or with SIGKILL if it has not exited within 10 s. */
async function stopNode(node) {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.stdin.end();
  await withDeadline(node.exited, 10_000, `node ${node.nodeId} stop`).catch(() => {
    node.child.kill('SIGKILL');
    return node.exited;
  });
}

/** One request: resolves with what became of it (a reply from `by`, a timeout, or an error), never rejects. */
async function request(nc, subject, data) {
  try {
    const msg = await nc.request(subject, data, { timeout: REQUEST_TIMEOUT_MS });
    if (msg.headers?.has(ERROR_HEADER)) return { kind: 'error' };
    return { kind: 'reply', by: msg.json().by };
  } catch (err) {
    return { kind: err?.code === 'TIMEOUT' ? 'timeout' : 'error' };
  }
}

/**
 * Sends requests one at a time until `replies` replies have arrived. The window starts at
 * `from` (now, or the kill); `gapMs` is the longest wait for a reply inside it. `beforeNext(i)`
 * runs after the i-th request is sent (so it may act while that request is in flight).
 */
async function steady(nc, subject, replies, { from = nowMs(), beforeNext } = {}) {
  const data = new TextEncoder().encode(JSON.stringify({ text: 'x'.repeat(48) }));
  const w = { gapMs: 0, timeouts: 0, errors: 0, by: new Map(), start: from };
  let last = from;
  for (let sent = 0, got = 0; got < replies; sent++) {
    if (sent > replies * 2 + 50) throw new Error(`${replies} replies wanted, ${got} after ${sent} requests`);
    const pending = request(nc, subject, data);
    beforeNext?.(sent, w);
    const r = await pending;
    if (r.kind !== 'reply') {
      w[r.kind === 'timeout' ? 'timeouts' : 'errors']++;
      continue;
    }
    const t = nowMs();
    w.gapMs = Math.max(w.gapMs, t - Math.max(last, w.start));
    last = t;
    got++;
    w.by.set(r.by, (w.by.get(r.by) ?? 0) + 1);
  }
  return w;
}

async function round(url, nc) {
  const ns = `fg${token()}`;
  const subject = `${ns}.task.echo`;
  const a = startNode(url, ns, `fa${token()}`);
  const b = startNode(url, ns, `fb${token()}`);
  try {
    await Promise.all([a.ready, b.ready]);
    await steady(nc, subject, WARMUP_REPLIES);
    const baseline = await steady(nc, subject, REPLIES);

    const before = await steady(nc, subject, REPLIES);
    if (before.by.size !== 2) throw new Error(`before the kill, only ${[...before.by.keys()].join(', ')} answered: the queue group does not spread`);
    // Kill A with the first request in flight; the window starts at the kill.
    const candidate = await steady(nc, subject, REPLIES, {
      beforeNext: (i, w) => {
        if (i !== 0) return;
        a.child.kill('SIGKILL');
        w.start = nowMs();
      },
    });
    await a.exited;
    const fromDead = candidate.by.get(`echo/${a.nodeId}`) ?? 0;
    if (fromDead > 1) throw new Error(`${fromDead} replies came from the killed node after the kill`);
    return { baseline, candidate };
  } finally {
    a.child.kill('SIGKILL');
    await stopNode(b);
  }
}

main(async () => {
  const url = natsUrlFromArgs();
  const nc = await connect({ servers: url, name: 'bench-failover-client' });
  const rounds = [];
  try {
    for (let i = 0; i < ROUNDS; i++) rounds.push(await withDeadline(round(url, nc), ROUND_DEADLINE_MS, `round ${i}`));
  } finally {
    await nc.close();
  }
  const base = rounds.map((r) => r.baseline);
  const cand = rounds.map((r) => r.candidate);
  const sum = (ws, k) => ws.reduce((n, w) => n + w[k], 0);
  console.log(`# failover-gap: ${ROUNDS} rounds of ${REPLIES} replies, request timeout ${REQUEST_TIMEOUT_MS} ms; gaps after the kill: ${cand.map((w) => w.gapMs.toFixed(1)).join(', ')} ms`);
  const gaps = (ws) => ws.map((w) => w.gapMs);
  console.log(row({ scenario: SCENARIO, metric: 'longest_wait_ms', baseline: median(gaps(base)), candidate: median(gaps(cand)), unit: 'ms' }));
  console.log(row({ scenario: SCENARIO, metric: 'longest_wait_max_ms', baseline: Math.max(...gaps(base)), candidate: Math.max(...gaps(cand)), unit: 'ms' }));
  console.log(row({ scenario: SCENARIO, metric: 'timeouts', baseline: sum(base, 'timeouts'), candidate: sum(cand, 'timeouts'), unit: 'count' }));
  console.log(row({ scenario: SCENARIO, metric: 'errors', baseline: sum(base, 'errors'), candidate: sum(cand, 'errors'), unit: 'count' }));
});
