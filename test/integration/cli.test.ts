// The `aos` command end to end: the built CLI (dist/cli/aos.js, so `npm run build` first,
// as `npm test` does) run as a user runs it, against the suite's nats-server
// (test/helpers/global-setup.ts provides and types `natsUrl`). Synchronises on the CLI's
// own output, never on time.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type NatsConnection } from 'nats';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AOS_BIN, packageRoot } from '../helpers/processes.js';

const AOS = AOS_BIN;
const ROOT = packageRoot();

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const conns: NatsConnection[] = [];

afterEach(async () => {
  for (const nc of conns.splice(0)) await nc.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function aos(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [AOS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

/** The first stdout line matching `re`; rejects if the process exits first or `deadlineMs` passes. */
function firstLine(child: ChildProcess, re: RegExp, deadlineMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => finish(new Error(`no line matching ${re} within ${deadlineMs} ms`)), deadlineMs);
    const onExit = (code: number | null) => finish(new Error(`aos exited (code ${code}) before printing a line matching ${re}`));
    function finish(result: RegExpExecArray | Error) {
      clearTimeout(timer);
      lines.close();
      child.off('exit', onExit);
      if (result instanceof Error) reject(result);
      else resolve(result);
    }
    lines.on('line', (line) => {
      const m = re.exec(line);
      if (m !== null) finish(m);
    });
    child.once('exit', onExit);
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aos-cli-'));
  dirs.push(dir);
  return dir;
}

function writeConfig(dir: string, config: unknown): string {
  const file = join(dir, 'node.json');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

describe('cli', () => {
  it('cli - demo runs a scripted workload and exits 0', async () => {
    const r = await aos(['demo']).exit;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ticket T-1 .* -> triage\/main -> billing\/b[12]: refund approved/m);
    expect(r.stdout).toMatch(/^ticket T-2 .* -> triage\/main -> tech\/t1: /m);
    expect(r.stdout).toMatch(/^ticket T-6 .*ERR_DECODE.*dead letter on aos\.dead\.triage/m);
    expect(r.stdout).toMatch(/^ticket T-7 .*ERR_INPUT_SCHEMA.*dead letter on aos\.dead\.triage/m);
    expect(r.stdout).toMatch(/^summary: 13 tickets, 11 resolved .* 2 rejected .* 2 dead letters/m);
  }, 30_000);

  it('cli - demo holds the large refund for a person, the duty manager approves it, and it runs once', async () => {
    const r = await aos(['demo']).exit;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^people: duty-manager \(support-lead\) added to the policy for this run; private key in \.aos\/demo\/duty-manager\.key/m);
    // Only the holder can read the key that signs the duty manager's decisions.
    expect(statSync(join(ROOT, '.aos', 'demo', 'duty-manager.key')).mode & 0o777).toBe(0o600);
    // Under the limit: paid at once. Over it: held, and the ticket is answered with the approval's id.
    expect(r.stdout).toMatch(/^ticket T-12 .* -> billing\/b[12]: refunded 40 EUR /m);
    const held = /^ticket T-13 .* -> billing\/(b[12]): refund of 750 EUR held for a human \(approval ([0-9a-f]{16})\)/m.exec(r.stdout);
    expect(held).not.toBeNull();
    const [, instance, id] = held!;
    const lines = r.stdout.split('\n');
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    // Listed as pending, waiting for the rule's first step, then approved with the command a person would type.
    const listed = lines.filter((l) => l.trimStart().startsWith(`${id}  `));
    expect(listed).toHaveLength(1);
    expect(listed[0]!.trim().split(/\s{2,}/)).toEqual([id, 'approval', 'pending', `billing/${instance}`, 'call payments.refund.large {"amount":750}', 'support-lead', '60m']);
    expect(r.stdout).toContain(`aos approvals approve ${id} --as duty-manager --key .aos/demo/duty-manager.key`);
    // Executed once, after it was held; and the requester heard the outcome in onApproval.
    expect(lines.filter((l) => l.startsWith(`approval ${id}: `))).toEqual([`approval ${id}: payments.refund.large {"amount":750} approved by duty-manager -> refunded 750 EUR (ran once)`]);
    expect(at(`approval ${id}: `)).toBeGreaterThan(at('ticket T-13 '));
    expect(lines).toContain(`  billing/${instance} got the outcome in onApproval and announced it on aos.evt.refunds.executed (ticket T-13, executed, refunded 750)`);
  }, 30_000);

  it('cli - start serves the configured actors until SIGTERM, then exits 0', async () => {
    const natsUrl = inject('natsUrl');
    const ns = `t${randomBytes(4).toString('hex')}`;
    const dir = tempDir();
    // The module path is relative to the config file's directory (and a .ts file, loaded through tsx).
    const module = relative(dir, join(ROOT, 'cli', 'demo', 'specialist.ts'));
    // The --namespace flag overrides the file's namespace.
    const config = writeConfig(dir, { namespace: 'overridden', threads: 1, actors: [{ module, type: 'billing', key: 'b1', tasks: ['billing'] }] });

    const { child, exit } = aos(['start', '--config', config, '--nats', natsUrl, '--namespace', ns, '--log-level', 'warn']);
    const ready = await firstLine(child, /^aos: node (\S+) ready on (\S+)$/, 20_000);
    expect(ready[2]).toBe(natsUrl);

    const nc = await connect({ servers: natsUrl });
    conns.push(nc);
    const reply = await nc.request(`${ns}.task.billing`, JSON.stringify({ id: 'C-1', subject: 'refund please' }), { timeout: 10_000 });
    expect(reply.json()).toEqual({ ticket: 'C-1', resolution: 'refund approved', by: 'billing/b1' });
    const bad = await nc.request(`${ns}.task.billing`, '{"id":', { timeout: 10_000 });
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('ERR_DECODE');

    child.kill('SIGTERM');
    const r = await exit;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    // Exactly one line on stdout: the ready line (logs and progress go to stderr).
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('cli - start with an invalid config file exits 2 naming the bad field', async () => {
    const config = writeConfig(tempDir(), { actors: [{ module: './x.ts', type: 'bad.type', key: 'k' }] });
    const r = await aos(['start', '--config', config, '--nats', inject('natsUrl')]).exit;
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^aos: invalid config .*node\.json: actors\[0\]\.type: /);
  });

  it('cli - start with a config file that is not JSON exits 2', async () => {
    const config = writeConfig(tempDir(), '{"actors": [');
    const r = await aos(['start', '--config', config]).exit;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^aos: invalid config .*node\.json: \(root\): /);
  });

  it('cli - an unknown verb exits 2 with the usage text', async () => {
    const r = await aos(['frobnicate']).exit;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\s+start\s/m);
    expect(r.stderr).toMatch(/^\s+demo\s/m);
  });

  it('cli - help exits 0 and lists the verbs', async () => {
    const r = await aos(['--help']).exit;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+start\s/m);
    expect(r.stdout).toMatch(/^\s+demo\s/m);
  });
});
