// `aos policy check|apply|show`, `aos suspend` and `aos resume` end to end: the built CLI
// (dist/cli/aos.js, so `npm run build` first, as `npm test` does) run as a user runs it,
// against nodes started in this process on the suite's nats-server, each test in a namespace
// of its own. The CLI confirms every change on every node before it exits, so the nodes'
// status is checked right after it, without waiting.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parsePolicy, type ActorSystem } from 'autonomy-os';
import { EmbeddedNats, GovernanceStore, Policy } from 'autonomy-os/internal';
import { runAos, startAos, type AosProcess } from '../helpers/processes.js';
import { rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';





const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writeFile(name: string, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-cli-policy-'));
  dirs.push(dir);
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** A small valid policy for namespace `ns`: workers take tasks and may ask each other. */
function policyDoc(ns: string, name: string, perSecond = 50): Record<string, unknown> {
  return {
    name,
    roles: {
      worker: {
        subscribe: { allow: [`${ns}.task.>`] },
        ask: { allow: [`${ns}.actor.echo.*`] },
        rateLimit: { perSecond, burst: 100 },
      },
    },
    actors: { '*': { role: 'worker', owner: 'qa' } },
  };
}

/** Three problems: a malformed subject, an unknown key, a role that is not defined. */
const BROKEN = {
  name: 'broken',
  roles: { worker: { publish: { allow: ['a..b'] }, colour: 'red' } },
  actors: { echo: { role: 'nobody' } },
};

const versionOf = (doc: unknown, ns: string) => new Policy(parsePolicy(doc), ns).version;

/** Two nodes of one namespace, running `policyDoc(ns, 'v1')`, with an echo actor on each. */
async function twoNodes(): Promise<{ ns: string; a: ActorSystem; b: ActorSystem; v1: string }> {
  const ns = uniqueNamespace();
  const doc = policyDoc(ns, 'v1');
  const a = await startSystem({ namespace: ns, policy: doc });
  const b = await startSystem({ namespace: ns, policy: doc });
  await a.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
  await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
  return { ns, a, b, v1: versionOf(doc, ns) };
}

const aos = runAos;
/** `aos <args>`, with the first line it prints on stdout. */
function run(args: string[]): AosProcess & { firstLine: () => Promise<string> } {
  const p = startAos(args);
  return { ...p, firstLine: () => p.line('stdout', () => true, 20_000, 'the first stdout line of aos') };
}

describe('cli policy', () => {
  it('cli policy - check accepts a valid file: its name, version, roles and actor types, exit 0', async () => {
    const doc = policyDoc('aos', 'check me');
    const r = await aos(['policy', 'check', writeFile('policy.json', doc)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`ok: check me (version ${versionOf(doc, 'aos')}), 1 role, 1 actor type\n`);
  });

  it('cli policy - check accepts the demo policy shipped in the repo', async () => {
    const r = await aos(['policy', 'check', 'cli/demo/policy.json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: support desk demo \(version [0-9a-f]{12}\), 4 roles, 4 actor types$/m);
    expect(r.stderr).toBe(''); // no warnings: every grant lies inside namespace aos, every role is played
  });

  it('cli policy - check lists every problem of a broken file by path, exit 1 with ERR_POLICY', async () => {
    const file = writeFile('broken.json', BROKEN);
    const r = await aos(['policy', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aos: ERR_POLICY: .*broken\.json is not a valid policy \(3 problems\):$/m);
    expect(r.stderr).toMatch(/^ {2}roles\.worker\.publish\.allow\.0: /m);
    expect(r.stderr).toMatch(/^ {2}roles\.worker: .*colour/m);
    expect(r.stderr).toMatch(/^ {2}actors\.echo\.role: /m);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  });

  it('cli policy - check of a file that is not JSON exits 1 with ERR_POLICY', async () => {
    const r = await aos(['policy', 'check', writeFile('policy.json', '{"roles": {')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^aos: ERR_POLICY: .*policy\.json is not valid JSON:$/m);
    expect(r.stderr).toMatch(/^ {2}\(root\): /m);
  });

  it('cli policy - check and apply without a FILE are usage errors (exit 2) showing the synopsis', async () => {
    for (const verb of ['check', 'apply']) {
      const r = await aos(['policy', verb]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^usage: aos policy ${verb} FILE`, 'm'));
    }
  });

  it('cli policy - apply reaches both nodes: each reports the new version', async () => {
    const { ns, a, b, v1 } = await twoNodes();
    const doc = policyDoc(ns, 'v2', 60);
    const v2 = versionOf(doc, ns);
    expect(v2).not.toBe(v1);
    const r = await aos(['policy', 'apply', writeFile('v2.json', doc), '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(0);
    const m = /^applied version ([0-9a-f]{12}) \(revision (\d+)\) on 2 node\(s\) in \d+ ms$/m.exec(r.stdout);
    expect(m?.[1]).toBe(v2);
    for (const node of [a, b]) {
      expect(node.governanceStatus.policy).toMatchObject({ version: v2, name: 'v2', origin: 'store', revision: Number(m![2]) });
    }
    expect(r.stderr).toContain('2 node(s)'); // progress: the nodes found before the write
  });

  it('cli policy - apply of a broken file writes nothing: the old version stays on both nodes, exit 1', async () => {
    const { ns, a, b, v1 } = await twoNodes();
    const nc = await rawClient();
    const store = (await GovernanceStore.open(nc, ns))!;
    const before = await store.policy();
    const r = await aos(['policy', 'apply', writeFile('broken.json', BROKEN), '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aos: ERR_POLICY: /m);
    expect(r.stderr).toMatch(/^ {2}roles\.worker\.publish\.allow\.0: /m);
    expect(await store.policy()).toEqual(before);
    for (const node of [a, b]) expect(node.governanceStatus.policy.version).toBe(v1);
  });

  it('cli policy - apply names a node still on another version after --timeout, exit 1', async () => {
    const { ns } = await twoNodes();
    // A third "node" that answers the control plane but never takes a new policy.
    const nc = await rawClient();
    const stale = { node: 'stale', policy: { version: 'ffffffffffff', name: 'old', origin: 'store', revision: 1 }, suspended: [], suspensionsRevision: 0 };
    nc.subscribe(`${ns}.ctl.all.policy`, { callback: (_err, m) => m.respond(JSON.stringify(stale)) });
    await nc.flush();
    const r = await aos(['policy', 'apply', writeFile('v2.json', policyDoc(ns, 'v2', 70)), '--nats', inject('natsUrl'), '--namespace', ns, '--timeout', '300']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/1 of 3 node\(s\) still run another version after 300 ms/);
    expect(r.stderr).toMatch(/^ {2}stale {2}version ffffffffffff {2}revision 1\b/m);
  });

  it('cli policy - apply to a NATS without JetStream exits 1 and writes nothing', async () => {
    const server = await EmbeddedNats.start({ jetstream: false });
    try {
      const r = await aos(['policy', 'apply', writeFile('p.json', policyDoc('aos', 'x')), '--nats', server.url]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^aos: the NATS server at .* has no JetStream/m);
    } finally {
      await server.stop();
    }
  });

  it('cli policy - show prints one row per node with its version, revision and origin', async () => {
    const { ns, a, b, v1 } = await twoNodes();
    const r = await aos(['policy', 'show', '--nats', inject('natsUrl'), '--namespace', ns]);
    expect(r.code).toBe(0);
    const revision = a.governanceStatus.policy.revision;
    for (const node of [a, b]) {
      expect(r.stdout).toMatch(new RegExp(`^${node.nodeId} +v1 +${v1} +${revision} +store +-$`, 'm'));
    }
    expect(r.stdout).toMatch(/^no suspensions$/m);
  });

  it('cli policy - suspend then resume: both nodes report the suspension, then neither', async () => {
    const { ns, a, b } = await twoNodes();
    const url = inject('natsUrl');
    const s = await aos(['suspend', 'role:worker', '--reason', 'incident 42', '--nats', url, '--namespace', ns]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^suspended role:worker on 2 node\(s\) in \d+ ms, revision \d+ \(by cli\/\S+@\S+, reason "incident 42"\)$/m);
    expect(s.stdout).toMatch(/^holds 2 actor\(s\): echo\/a \(node \S+\), echo\/b \(node \S+\)$/m);
    for (const node of [a, b]) {
      expect(node.governanceStatus.suspended).toEqual([expect.objectContaining({ target: 'role:worker', reason: 'incident 42', by: expect.stringMatching(/^cli\/.+@.+$/) })]);
    }

    const one = await aos(['suspend', 'echo/b', '--nats', url, '--namespace', ns]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^holds 1 actor\(s\): echo\/b \(node \S+\)$/m);
    for (const node of [a, b]) expect(node.governanceStatus.suspended.map((x) => x.target).sort()).toEqual(['echo/b', 'role:worker']);

    const shown = await aos(['policy', 'show', '--nats', url, '--namespace', ns]);
    expect(shown.stdout).toMatch(/^ {2}role:worker +by cli\/\S+ +\S+ ago +"incident 42"$/m);

    for (const target of ['role:worker', 'echo/b']) {
      const r = await aos(['resume', target, '--nats', url, '--namespace', ns]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^resumed ${target} on 2 node\\(s\\) in \\d+ ms, revision \\d+$`, 'm'));
    }
    for (const node of [a, b]) expect(node.governanceStatus.suspended).toEqual([]);
    // Resumed: the actors answer again.
    await expect(b.ref('echo/a').ask({ text: 'back' })).resolves.toMatchObject({ text: 'back' });

    const again = await aos(['resume', 'echo/b', '--nats', url, '--namespace', ns]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('echo/b is not suspended: nothing to resume\n');
  });

  it('cli policy - suspend of a target that is neither type/key nor role:NAME exits 2', async () => {
    for (const target of ['justaname', 'a.b/c', 'a/b/c', 'role:']) {
      const r = await aos(['suspend', target, '--nats', 'nats://127.0.0.1:1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^aos: ".*" (is not a target|names no role)/m);
      expect(r.stderr).toMatch(/^usage: aos suspend /m);
    }
    const r = await aos(['resume', 'x/y', '--reason', 'why']);
    expect(r.code).toBe(2);
  });

  it('cli policy - start --policy runs the node under that policy (the first node of a namespace stores it)', async () => {
    const ns = uniqueNamespace();
    const doc = policyDoc(ns, 'from start');
    const node = run(['start', '--nats', inject('natsUrl'), '--namespace', ns, '--policy', writeFile('p.json', doc), '--log-level', 'warn']);
    expect(await node.firstLine()).toMatch(/^aos: node \S+ ready on /);
    const shown = await aos(['policy', 'show', '--nats', inject('natsUrl'), '--namespace', ns, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual([expect.objectContaining({ policy: expect.objectContaining({ name: 'from start', version: versionOf(doc, ns), origin: 'store' }) })]);
    node.child.kill('SIGTERM');
    const r = await node.exit;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^aos: policy "from start" version ${versionOf(doc, ns)} in force \\(from .*p\\.json, revision \\d+ in the namespace's store\\)$`, 'm'));
  });

  it('cli policy - start with a broken --policy exits 1 listing the problems, and starts nothing', async () => {
    const r = await aos(['start', '--nats', inject('natsUrl'), '--namespace', uniqueNamespace(), '--policy', writeFile('broken.json', BROKEN)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aos: ERR_POLICY: .*broken\.json is not a valid policy \(3 problems\):$/m);
    expect(r.stderr).not.toContain('connecting to'); // checked before NATS
  });

  it('cli policy - help lists the policy, suspend and resume commands', async () => {
    const r = await aos(['help']);
    expect(r.code).toBe(0);
    for (const cmd of ['policy check', 'policy apply', 'policy show', 'suspend', 'resume']) expect(r.stdout).toMatch(new RegExp(`^ {2}${cmd}\\s`, 'm'));
  });
});
