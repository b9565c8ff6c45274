import { test, expect } from 'vitest';
import { collect, replyAsActor } from '../helpers/nats.js';
import { later } from '../helpers/deferred.js';
import { governed, policy } from '../fixtures/broker/setup.js';
import { envelopeSealed } from 'autonomy-os/internal';
test('dbg', async () => {
  const g = await governed((ns) => policy({ agent: { ask: { allow: [`${ns}.actor.>`] } } }, { agent: { role: 'agent' } }), { clusterKey: 'broker-attacks-cluster-key-0123' });
  const { ns } = g;
  await g.agent('agent', 'a');
  const victim = await collect(g.nc, `${ns}.actor.victim.x`);
  const asked = later(g.act('agent/a', { op: 'ask', to: 'victim/x', value: { op: 'ping' } }));
  const [request] = await victim.waitFor(1);
  console.log('reply subject', request!.reply, 'sealed req', envelopeSealed(request!.data, new TextEncoder().encode('broker-attacks-cluster-key-0123')));
  const inbox = await collect(g.nc, request!.reply!);
  replyAsActor(request!, 'victim/x', 'forged answer');
  const [r] = await inbox.waitFor(1);
  console.log('reply bytes[0]', r!.data[0].toString(16), r!.headers?.get('content-type'), envelopeSealed(r!.data, new TextEncoder().encode('broker-attacks-cluster-key-0123')));
  console.log(await asked);
});
