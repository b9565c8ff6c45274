// `aos tree` end to end: nodes with a supervision tree run in the test process on the suite's
// nats-server (test/helpers/global-setup.ts provides `natsUrl`), each test in a namespace of
// its own; the built CLI (dist/cli/aos.js, so `npm run build` first, as `npm test` does)
// asks them as a user would. Meant for test/integration/ (it imports ../helpers/).

import { describe, expect, inject, it } from 'vitest';
import { runAos } from '../helpers/processes.js';
import { defineSupervisor, type ActorInfo, type ActorNode, type SupervisorNode } from 'autonomy-os';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';




interface TreeReply {
  node: string;
  supervisors: SupervisorNode[];
  actors: ActorInfo[];
}

/**
 * Node A: supervisor `root` (one_for_one) over `bad/a` (misbehave, failed once and restarted)
 * and a nested supervisor `inner` over `echo/x`, plus an unsupervised `echo/loose`.
 * Node B, in the same namespace: only an unsupervised `echo/b`.
 */
async function twoNodes(): Promise<{ ns: string; a: string; b: string }> {
  const ns = uniqueNamespace();
  const a = await startSystem({ namespace: ns, threads: 2 });
  const b = await startSystem({ namespace: ns });
  await a.supervise(
    defineSupervisor({
      name: 'root',
      intensity: { maxRestarts: 5, withinMs: 10_000 },
      children: [
        { module: fixture('misbehave.ts'), type: 'bad', key: 'a', maxAttempts: 1 },
        defineSupervisor({ name: 'inner', children: [{ module: fixture('echo.ts'), type: 'echo', key: 'x' }] }),
      ],
    }),
  );
  await a.spawn(fixture('echo.ts'), { type: 'echo', key: 'loose' });
  await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
  const bad = a.ref('bad/a');
  await expect(bad.ask({ do: 'throw' })).rejects.toMatchObject({ code: 'ERR_HANDLER_FAILED' });
  // Answered by the restarted actor: by then its supervisor has counted the restart.
  await expect(bad.ask({ do: 'ok' })).resolves.toEqual({ handled: 1 });
  return { ns, a: a.nodeId, b: b.nodeId };
}

describe('cli tree', () => {
  it('cli - tree prints every node with its supervisors, children, last failure and unsupervised actors', async () => {
    const { ns, a, b } = await twoNodes();
    const r = await runAos(['tree', '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`asking every node on ${inject('natsUrl')}`);
    expect(r.stdout).toMatch(new RegExp(`^node ${a}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^node ${b}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}supervisor root {2}one_for_one {2}running {2}restarts 1\/5 in 10s$/m);
    expect(r.stdout).toMatch(/^ {4}bad\/a {2}running {2}permanent {2}restarts 1 {2}last: ERR_HANDLER_FAILED ".*" \S+ ago$/m);
    expect(r.stdout).toMatch(/^ {4}supervisor inner {2}one_for_one {2}running {2}restarts 0\b/m);
    expect(r.stdout).toMatch(/^ {6}echo\/x {2}running {2}permanent {2}restarts 0$/m);
    expect(r.stdout).toMatch(/^ {4}echo\/loose {2}running\b/m);
    expect(r.stdout).toMatch(/^ {4}echo\/b {2}running\b/m);
    // Node A's block holds its tree; node B's holds only its own actor.
    const blocks = r.stdout.trim().split('\n\n');
    const blockA = blocks.find((s) => s.startsWith(`node ${a}\n`))!;
    const blockB = blocks.find((s) => s.startsWith(`node ${b}\n`))!;
    expect(blockA).toContain('supervisor root');
    expect(blockB).not.toContain('supervisor');
    expect(blockB).not.toContain('bad/a');
  }, 30_000);

  it('cli - tree --json prints the replies as one JSON array', async () => {
    const { ns, a, b } = await twoNodes();
    const r = await runAos(['tree', '--nats', inject('natsUrl'), '--namespace', ns, '--json']);
    expect(r.code).toBe(0);
    const replies = JSON.parse(r.stdout) as TreeReply[];
    expect(replies.map((x) => x.node).sort()).toEqual([a, b].sort());
    const root = replies.find((x) => x.node === a)!.supervisors[0]!;
    expect(root).toMatchObject({ kind: 'supervisor', name: 'root', strategy: 'one_for_one', status: 'running', restarts: 1 });
    const [bad, inner] = root.children as [ActorNode, SupervisorNode];
    expect(bad).toMatchObject({ kind: 'actor', id: 'bad/a', restarts: 1, lastFailure: { code: 'ERR_HANDLER_FAILED', kind: 'threw' } });
    expect(inner).toMatchObject({ kind: 'supervisor', name: 'inner', children: [{ kind: 'actor', id: 'echo/x' }] });
    expect(replies.find((x) => x.node === a)!.actors.map((x) => x.id)).toEqual(['echo/loose']);
  }, 30_000);

  it('cli - tree exits 1 with a message on stderr when no node answers', async () => {
    const r = await runAos(['tree', '--nats', inject('natsUrl'), '--namespace', uniqueNamespace()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aos: no node (listens|answered) on /m);
  });

  it('cli - tree exits 1 with ERR_TRANSPORT when NATS cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, and the refusal is immediate.
    const r = await runAos(['tree', '--nats', 'nats://127.0.0.1:1', '--timeout', '100']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^aos: ERR_TRANSPORT: /m);
  });

  it('cli - tree with a bad --timeout exits 2', async () => {
    const r = await runAos(['tree', '--timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^aos: --timeout /);
  });
});
