import { parsePolicy } from 'autonomy-os';
import { Broker, Policy } from 'autonomy-os/internal';
import { realisticPolicy } from './actors/relay-policy.mjs';
class Patched extends Broker {
  decide(actor, action, target, ids = {}) {
    const policy = this.policyInForce;
    const a = policy.assignment(actor.type);
    const s = this.staticOrLimits(policy, actor, action, target);
    const d = { allow: s.allow, rule: s.rule, policy: policy.version, role: a?.role ?? null, owner: a?.owner ?? null };
    if (s.reason !== undefined) d.reason = s.reason;
    if (s.code !== undefined) d.code = s.code;
    this.record(actor, action, target, d, ids);
    return d;
  }
}
const policy = new Policy(parsePolicy(realisticPolicy('aos')), 'aos');
for (const B of [Broker, Patched]) {
  const recs = [];
  const b = new B({ nodeId: 'b', clock: { now: () => Date.now() }, policy, record: (r) => { recs.push(r); if (recs.length >= 512) recs.length = 0; } });
  const relay = { id: 'relay/1', type: 'relay' };
  for (let k = 0; k < 3; k++) {
    const N = 2e6; const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) b.decide(relay, 'ask', 'aos.actor.echo.1');
    console.log(B.name, 'decide ns', (Number(process.hrtime.bigint() - t0) / N).toFixed(0));
  }
}
