// `aos demo`: a support desk in one process. An embedded NATS, a triage agent and three
// specialists (two of one type) under a real policy (demo/policy.json: each role granted
// exactly what it does), a scripted workload from a plain NATS client, a duty manager who
// approves the refund the policy holds for a person, and a few lines saying what happened.
// Exits 0 when every ticket ended as the script expects and the approved refund ran once.

import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ActorSystem, loadPolicyFile, startTracer } from '../index.js';
import { isBatchMark, recordsOfLog, verifyLogFile } from '../internal.js';
import { approvePending, enrolDutyManager, personLine } from './demo-approval.js';
import { OutsideClient, workload, type Outcome } from './demo-workload.js';
import { compactLogger, policyLine, progress } from './output.js';

const NS = 'aos';

// Next to this file: dist/cli/demo/*.js when built, cli/demo/*.ts when run through tsx.
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const moduleUrl = (name: string) => new URL(`./demo/${name}.${ext}`, import.meta.url);
// The build copies it next to the built modules (package.json "build": tsc does not copy JSON).
const POLICY_FILE = fileURLToPath(new URL('./demo/policy.json', import.meta.url));

const TEAM = [
  { module: 'triage', type: 'triage', key: 'main', tasks: ['tickets'] },
  { module: 'specialist', type: 'billing', key: 'b1', tasks: ['billing'] },
  { module: 'specialist', type: 'billing', key: 'b2', tasks: ['billing'] },
  { module: 'specialist', type: 'tech', key: 't1', tasks: ['tech'] },
];

export async function runDemo(): Promise<number> {
  const started = performance.now();
  // The duty manager decides the refunds the policy holds: their key is made now, and they join the policy's people before the node starts.
  const { policy, person } = enrolDutyManager(await loadPolicyFile(POLICY_FILE), join('.aos', 'demo'));
  progress('starting embedded nats-server…', 'aos demo');
  const system = await ActorSystem.start({ namespace: NS, nodeId: 'demo', threads: 2, policy, logLevel: 'warn', logTo: 'stderr', logger: compactLogger('warn', 'aos demo') });
  let client: OutsideClient | undefined;
  try {
    console.log(policyLine(system.governanceStatus.policy, relative(process.cwd(), POLICY_FILE) || POLICY_FILE, policy));
    console.log(personLine(person));
    // The payments system: tools run in the kernel (with their secrets); actors reach them only through the broker.
    const refund = { input: z.object({ amount: z.number().positive() }), output: z.object({ refunded: z.number() }), run: ({ amount }: { amount: number }) => ({ refunded: amount }) };
    const largeRefunds: number[] = []; // what the payments system paid out over the limit: each approved refund must appear once
    system.registerTool('payments.refund', refund);
    system.registerTool('payments.refund.large', {
      ...refund,
      run: ({ amount }: { amount: number }) => {
        largeRefunds.push(amount);
        return { refunded: amount };
      },
    });
    // The tracer first, so it records the team's start. The log is kept after the demo (and
    // continued by the next run): `aos trace verify|show|stats|html --file` it.
    const traceFile = join('.aos', 'demo', 'trace.log');
    await startTracer(system, { file: traceFile });
    progress(`spawning ${TEAM.length} actors…`, 'aos demo');
    await Promise.all(TEAM.map((a) => system.spawn(moduleUrl(a.module), { type: a.type, key: a.key, tasks: a.tasks })));
    console.log(`node ${system.nodeId} on ${system.natsUrl}: ${team()}; tracer/${system.nodeId} writes ${traceFile}`);

    client = await OutsideClient.connect(system.natsUrl, NS);
    const sends = workload(NS);
    progress(`sending ${sends.length} tickets from a plain NATS client…`, 'aos demo');
    const outcomes = await client.sendAll(sends);
    const rejected = outcomes.filter((o) => o.error !== undefined).length;
    await client.waitForDeadLetters(rejected, 2_000);
    await system.whenIdle();

    for (const o of outcomes) console.log(describe(o, client));
    const ticketsOk = outcomes.every((o) => (o.error?.code ?? 'resolved') === o.send.expect) && client.deadLetters.length === rejected;
    progress('the duty manager looks at what waits for a person…', 'aos demo');
    const approvalsOk = await approvePending(system.natsUrl, NS, person, (args) => largeRefunds.filter((a) => a === (args as { amount?: unknown }).amount).length);
    await system.whenIdle();
    const ok = ticketsOk && approvalsOk;
    console.log(summary(outcomes, client.deadLetters.length, system.deadLetterCount, performance.now() - started));
    console.log(await traceLine(system, traceFile));
    if (!ticketsOk) console.log('demo: some tickets did not end as expected (see above)');
    if (!approvalsOk) console.log('demo: the held refund did not run exactly once after its approval (see above)');
    return ok ? 0 : 1;
  } finally {
    await client?.close();
    await system.shutdown({ timeoutMs: 2_000 });
  }
}

/** "triage/main on aos.task.tickets, billing/b1 + billing/b2 on aos.task.billing, ..." */
function team(): string {
  const byQueue = new Map<string, string[]>();
  for (const a of TEAM) byQueue.set(a.tasks[0]!, [...(byQueue.get(a.tasks[0]!) ?? []), `${a.type}/${a.key}`]);
  return [...byQueue].map(([topic, ids]) => `${ids.join(' + ')} on ${NS}.task.${topic}`).join(', ');
}

function label(o: Outcome): string {
  try {
    const t = JSON.parse(o.send.body) as { subject?: unknown };
    return typeof t.subject === 'string' ? JSON.stringify(t.subject) : '<no subject>';
  } catch {
    return '<malformed JSON>';
  }
}

/** The first schema issue when there is one ("subject: expected string"), else the message. */
function problem(error: NonNullable<Outcome['error']>): string {
  const issue = error.details?.issues?.[0];
  return issue === undefined ? error.message : `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}

function describe(o: Outcome, client: OutsideClient): string {
  const head = `ticket ${o.send.id.padEnd(4)} ${label(o).padEnd(26)} -> `;
  const ms = `(${Math.round(o.ms)} ms)`;
  if (o.error !== undefined) {
    const dead = client.deadLetters.find((d) => d.body === o.send.body);
    const where = dead === undefined ? 'no dead letter seen' : `dead letter on ${dead.on}`;
    return `${head}${o.send.subject}: ${o.error.code} (${truncate(problem(o.error), 60)}), ${where} ${ms}`;
  }
  const route = o.reply?.route ?? [o.send.subject, o.reply?.by ?? '?'];
  return `${head}${route.join(' -> ')}: ${o.reply?.resolution ?? '?'} ${ms}`;
}

/** What the tracer kept: once the node's trace is acknowledged, the log is verified as `aos trace verify` would. */
async function traceLine(system: ActorSystem, file: string): Promise<string> {
  const deadline = Date.now() + 2_000;
  while (system.traceBacklog > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const report = verifyLogFile(file);
  const kinds = new Map<string, number>();
  for (const r of recordsOfLog(readFileSync(file, 'utf8'))) {
    if (isBatchMark(r)) continue;
    const k = r.type === 'envelope' ? r.event : r.type;
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  const what = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
  return report.ok ? `trace: ${what}; hash chain verified (${report.tail.seq} entries in ${file}: try aos trace verify ${file})` : `trace: ${what}; VERIFY FAILED: ${report.problem.kind} at line ${report.problem.line}`;
}

function summary(outcomes: Outcome[], deadSeen: number, deadSent: number, ms: number): string {
  const byActor = new Map<string, number>();
  for (const o of outcomes) {
    const by = o.reply?.route?.at(-1) ?? o.reply?.by;
    if (by !== undefined) byActor.set(by, (byActor.get(by) ?? 0) + 1);
  }
  const resolved = [...byActor.values()].reduce((a, b) => a + b, 0);
  const load = [...byActor].sort(([a], [b]) => a.localeCompare(b)).map(([id, n]) => `${id} ${n}`).join(', ');
  const codes = outcomes.flatMap((o) => (o.error === undefined ? [] : [o.error.code])).join(', ');
  return (
    `summary: ${outcomes.length} tickets, ${resolved} resolved (${load}), ${outcomes.length - resolved} rejected (${codes}), ` +
    `${deadSent} dead letters (${deadSeen} seen on ${NS}.dead.>), ${(ms / 1000).toFixed(1)} s`
  );
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
