import { parsePolicy } from 'autonomy-os';
import { Broker, Policy } from 'autonomy-os/internal';
import { realisticPolicy, allowAllPolicy } from './actors/relay-policy.mjs';
const which = process.argv[2] ?? 'real';
const doc = parsePolicy(which === 'all' ? allowAllPolicy() : realisticPolicy('aos'));
const policy = new Policy(doc, 'aos');
let n = 0;
const broker = new Broker({ nodeId: 'b', clock: { now: () => Date.now() }, policy, record: () => { n++; } });
const relay = { id: 'relay/1', type: 'relay' };
const t = 'aos.actor.echo.1';
for (let k = 0; k < 5; k++) {
  const N = 2e6;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) broker.decide(relay, 'ask', t);
  console.log(which, 'decide ns', Number(process.hrtime.bigint() - t0) / N);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) policy.check('relay', 'ask', t);
  console.log(which, 'check ns', Number(process.hrtime.bigint() - t0) / N);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) broker.allowance(relay);
  console.log(which, 'allowance ns', Number(process.hrtime.bigint() - t0) / N);
}
