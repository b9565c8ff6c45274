import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { ActorSystem, startTracer } from 'autonomy-os';
import { throughput } from './lib/measure.js';
const traced = process.argv[2] === 'on';
const url = 'nats://127.0.0.1:14333';
const natsPid = execSync("pgrep -f 'nats-server -a 127.0.0.1 -p 14333'").toString().trim().split('\n')[0];
function cpu() {
  const out = {};
  for (const tid of readdirSync('/proc/self/task')) {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    out[`${tid}:${name}`] = (Number(f[11]) + Number(f[12]));
  }
  const st = readFileSync(`/proc/${natsPid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  out['nats-server'] = Number(f[11]) + Number(f[12]);
  return out;
}
const dir = mkdtempSync(join(tmpdir(), 'aos-prof-'));
const system = await ActorSystem.start({ nats: url, namespace: `prof${process.pid}`, threads: 2, logLevel: 'warn', logTo: 'stderr', tracing: traced });
if (traced) await startTracer(system, { file: join(dir, 'trace.log') });
const echo = await system.spawn(new URL('./actors/echo.mjs', import.meta.url), { type: 'echo', key: 'bench' });
const value = { text: 'hello' };
await throughput(() => echo.ask(value), 5000, 1000);
const N = Number(process.env.N ?? 100000);
import { connect } from 'nats';
const nc2 = await connect({ servers: url });
let nb = 0, bytes = 0; const sizes = [];
const sub2 = nc2.subscribe(`prof${process.pid}.trace.>`, { callback: (e, m) => { nb++; bytes += m.data.length; sizes.push(m.data.length); } });
globalThis.__st = {};
const a = cpu();
const rate = await throughput(() => echo.ask(value), N, 1000);
const b = cpu();
const rows = [];
let total = 0;
for (const k of Object.keys(b)) { const d = (b[k] - (a[k] ?? 0)) * 10 * 1000 / N; if (d > 0.05) { rows.push(`${k}=${d.toFixed(2)}us`); total += d; } }
console.log(JSON.stringify(globalThis.__st, (k, v) => typeof v === "bigint" ? Number(v / 1000n) : v));
if (process.env.JSONOUT) console.log(JSON.stringify({ traced, rate, per: Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] - (a[k] ?? 0)) * 10 * 1000 / N])) }));
console.log(`${traced ? 'on ' : 'off'} ${Math.round(rate)}/s  cpu/ask ${total.toFixed(2)}us  ${rows.join(' ')}`);
await system.shutdown({ timeoutMs: 5000 }); await nc2.close();
