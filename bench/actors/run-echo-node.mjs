// A node in a process of its own, for failover-gap: `node run-echo-node.mjs <natsUrl> <namespace> <nodeId>`.
// Starts an ActorSystem (1 thread) on the given NATS, spawns echo/<nodeId> (echo-whoami.mjs)
// serving the task subject `<namespace>.task.echo`, prints "ready <nodeId>", and shuts down
// cleanly when its stdin closes or on SIGTERM (the bench ends it with SIGKILL to fail it).

import { ActorSystem } from 'autonomy-os';

const [natsUrl, namespace, nodeId] = process.argv.slice(2);
if (nodeId === undefined) throw new Error('usage: node run-echo-node.mjs <natsUrl> <namespace> <nodeId>');
const system = await ActorSystem.start({ nats: natsUrl, namespace, nodeId, threads: 1, logLevel: 'error', logTo: 'stderr' });
await system.spawn(new URL('./echo-whoami.mjs', import.meta.url), { type: 'echo', key: nodeId, tasks: ['echo'] });

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await system.shutdown({ timeoutMs: 5_000 });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
process.stdout.write(`ready ${system.nodeId}\n`);
