// `aos approvals`, the pure parts: the command line (every subcommand, its flags, its usage
// errors), who decides (flags, then the environment; a key file, or the PEM itself), and the
// text for people (the list's table, one item in full, the outcome line, keygen's people entry).
// The CLI is not part of the package: imported from its source.

import { generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ApprovalItem } from '../../runtime/approvals/approval-types.js';
import { generateApproverKey } from '../../runtime/approvals/approver-keys.js';
import { loadApprover } from '../../cli/approvals.js';
import { actionLine, dueIn, outcomeLine, peopleEntry, renderItem, renderList, renderPreview, subjectLine, waitingFor } from '../../cli/approvals-text.js';
import { parseCommand, UsageError, type Command } from '../../cli/args.js';

const T0 = Date.UTC(2025, 0, 2, 10, 0, 0);

function item(extra: Partial<ApprovalItem> = {}): ApprovalItem {
  return {
    id: 'ap1',
    kind: 'approval',
    status: 'pending',
    createdAt: T0,
    node: 'n1',
    requester: 'billing/b1',
    role: 'billing',
    owner: 'finance',
    action: { kind: 'call', target: 'payments.refund', args: { orderId: 'o-17', amount: 900 } },
    actionHash: 'a'.repeat(64),
    reason: 'refund over 500',
    rule: 'roles.billing.approvals[0]',
    correlationId: 'c0ffee00c0ffee00c0ffee00c0ffee00',
    causationId: 'm1',
    chain: [
      { approvers: ['finance-lead'], timeoutMs: 300_000 },
      { approvers: ['cfo', 'coo'], timeoutMs: 3_600_000 },
    ],
    step: 0,
    deadline: T0 + 300_000,
    onExhausted: 'deny',
    history: [{ at: T0, event: 'requested', by: 'billing/b1', detail: 'rule roles.billing.approvals[0]' }],
    ...extra,
  };
}

function escalation(extra: Partial<ApprovalItem> = {}): ApprovalItem {
  const { action: _a, actionHash: _h, requester: _r, ...rest } = item();
  return {
    ...rest,
    id: 'es1',
    kind: 'escalation',
    status: 'open',
    chain: [{ approvers: ['ops'], timeoutMs: 600_000 }],
    deadline: T0 + 600_000,
    escalation: {
      reason: { code: 'ERR_UNAVAILABLE', message: 'no instance of billing is running' },
      subject: 'ns.task.billing',
      type: 'billing',
      tasks: [{ subject: 'ns.task.billing', replyTo: '_INBOX.x', correlationId: 'c1', messageId: 'm9', payload: '{"order":"o-1"}', encoding: 'utf8', at: T0 }],
    },
    ...extra,
  };
}

function usageError(argv: string[]): UsageError {
  try {
    parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'aos-approvals-unit-'));
  dirs.push(d);
  return d;
}

describe('cli approvals - the command line', () => {
  test('cli approvals - list and show take the connection flags, --all and --json', () => {
    expect(parseCommand(['approvals', 'list'])).toEqual({ verb: 'approvals list', flags: {} });
    expect(parseCommand(['approvals', 'list', '--all', '--json', '--nats', 'nats://h:1', '--namespace', 'ns'])).toEqual({
      verb: 'approvals list',
      flags: { all: true, json: true, nats: 'nats://h:1', namespace: 'ns' },
    });
    expect(parseCommand(['approvals', 'show', 'ap1', '--json'])).toEqual({ verb: 'approvals show', flags: { id: 'ap1', json: true } });
  });

  test('cli approvals - approve and deny take an id, --reason, --as, --key and --timeout', () => {
    const cmd = parseCommand(['approvals', 'approve', 'ap1', '--reason', 'ok by me', '--as', 'alice', '--key', 'alice.pem', '--timeout', '2000']);
    expect(cmd).toEqual({ verb: 'approvals approve', flags: { id: 'ap1', reason: 'ok by me', as: 'alice', key: 'alice.pem', timeoutMs: 2000 } });
    expect(parseCommand(['approvals', 'deny', 'ap2'])).toEqual({ verb: 'approvals deny', flags: { id: 'ap2' } });
  });

  test('cli approvals - act takes an id and one of restart, reroute, drop, reply', () => {
    expect(parseCommand(['approvals', 'act', 'es1', 'restart'])).toEqual({ verb: 'approvals act', flags: { id: 'es1', action: 'restart' } });
    expect(parseCommand(['approvals', 'act', 'es1', 'drop', '--reason', 'spam'])).toEqual({ verb: 'approvals act', flags: { id: 'es1', action: 'drop', reason: 'spam' } });
    expect(parseCommand(['approvals', 'act', 'es1', 'reroute', '--to', 'ns.task.billing2'])).toEqual({ verb: 'approvals act', flags: { id: 'es1', action: 'reroute', to: 'ns.task.billing2' } });
    const reply = parseCommand(['approvals', 'act', 'es1', 'reply', '--value', '{"refund":"done"}']) as Extract<Command, { verb: 'approvals act' }>;
    expect(reply.flags).toEqual({ id: 'es1', action: 'reply', value: { refund: 'done' } });
  });

  test('cli approvals - keygen takes --as, any number of --role and --out', () => {
    expect(parseCommand(['approvals', 'keygen', '--as', 'alice'])).toEqual({ verb: 'approvals keygen', flags: { as: 'alice', roles: [] } });
    expect(parseCommand(['approvals', 'keygen', '--as', 'alice@example.com', '--role', 'finance-lead', '--role', 'cfo', '--out', 'k.pem'])).toEqual({
      verb: 'approvals keygen',
      flags: { as: 'alice@example.com', roles: ['finance-lead', 'cfo'], out: 'k.pem' },
    });
  });

  test('cli approvals - wrong usage names the command and shows its synopsis', () => {
    const cases: [string[], string][] = [
      [['approvals', 'show'], 'approvals show'],
      [['approvals', 'approve'], 'approvals approve'],
      [['approvals', 'deny', 'a', 'b'], 'approvals deny'],
      [['approvals', 'approve', 'ap1', '--yes'], 'approvals approve'],
      [['approvals', 'list', 'extra'], 'approvals list'],
      [['approvals', 'act', 'es1'], 'approvals act'],
      [['approvals', 'act', 'es1', 'explode'], 'approvals act'],
      [['approvals', 'act', 'es1', 'reroute'], 'approvals act'],
      [['approvals', 'act', 'es1', 'reply'], 'approvals act'],
      [['approvals', 'act', 'es1', 'reply', '--value', '{not json'], 'approvals act'],
      [['approvals', 'act', 'es1', 'drop', '--to', 'x'], 'approvals act'],
      [['approvals', 'act', 'es1', 'restart', '--value', '1'], 'approvals act'],
      [['approvals', 'keygen'], 'approvals keygen'],
      [['approvals', 'keygen', '--as', 'a b'], 'approvals keygen'],
      [['approvals', 'keygen', '--as', '../etc/x'], 'approvals keygen'],
      [['approvals', 'approve', 'ap1', '--timeout', '0'], 'approvals approve'],
    ];
    for (const [argv, command] of cases) {
      const err = usageError(argv);
      expect(err.showUsage, argv.join(' ')).toBe(false);
      expect(err.synopsis, argv.join(' ')).toMatch(new RegExp(`^aos ${command} `));
    }
  });

  test('cli approvals - no or an unknown subcommand shows the whole usage', () => {
    expect(usageError(['approvals']).showUsage).toBe(true);
    expect(usageError(['approvals', 'grant']).showUsage).toBe(true);
    expect(parseCommand(['approvals', 'help'])).toEqual({ verb: 'help' });
    expect(parseCommand(['approvals', 'list', '-h'])).toEqual({ verb: 'help' });
  });
});

describe('cli approvals - who decides', () => {
  test('cli approvals - --as and --key name the person and their key file', () => {
    const file = join(tempDir(), 'alice.pem');
    const k = generateApproverKey();
    writeFileSync(file, k.privateKeyPem, { mode: 0o600 });
    const me = loadApprover({ as: 'alice', key: file }, 'approvals approve', {});
    expect(me.name).toBe('alice');
    // The key loaded is the one whose public half keygen printed: its signature verifies.
    const sig = sign(null, Buffer.from('x'), me.key);
    expect(verify(null, Buffer.from('x'), createPublicKey({ key: Buffer.from(k.publicKey, 'base64'), format: 'der', type: 'spki' }), sig)).toBe(true);
  });

  test('cli approvals - AOS_APPROVER and AOS_APPROVER_KEY stand in for the flags; the key may be the PEM itself', () => {
    const k = generateApproverKey();
    const file = join(tempDir(), 'bob.pem');
    writeFileSync(file, k.privateKeyPem, { mode: 0o600 });
    expect(loadApprover({}, 'approvals deny', { AOS_APPROVER: 'bob', AOS_APPROVER_KEY: file }).name).toBe('bob');
    expect(loadApprover({}, 'approvals deny', { AOS_APPROVER: 'bob', AOS_APPROVER_KEY: k.privateKeyPem }).key.asymmetricKeyType).toBe('ed25519');
    // The flags win over the environment.
    expect(loadApprover({ as: 'carol', key: file }, 'approvals deny', { AOS_APPROVER: 'bob', AOS_APPROVER_KEY: '/nowhere' }).name).toBe('carol');
  });

  test('cli approvals - no name or no key is a usage error that says how to make a key', () => {
    expect(() => loadApprover({}, 'approvals approve', {})).toThrow(UsageError);
    let err: unknown;
    try {
      loadApprover({ as: 'alice' }, 'approvals approve', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('aos approvals keygen --as alice');
  });

  test('cli approvals - a missing key file is ERR_CONFIG pointing at keygen; a key that is not ed25519 is ERR_CONFIG', () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.pem');
    expect(() => loadApprover({ as: 'alice', key: missing }, 'approvals approve', {})).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining('aos approvals keygen --as alice') }));
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    expect(() => loadApprover({ as: 'alice', key: rsa }, 'approvals approve', {})).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    chmodSync(junk, 0o600);
    expect(() => loadApprover({ as: 'alice', key: junk }, 'approvals approve', {})).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  });
});

describe('cli approvals - text for people', () => {
  test('cli approvals - the list: one row per item, oldest first, with who it waits for and when it runs out', () => {
    const later = item({ id: 'ap2', createdAt: T0 + 1_000, step: 1, deadline: T0 - 5_000 });
    const text = renderList([later, item(), escalation(), item({ id: 'ap3', status: 'executed' })], T0 + 60_000, true);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+kind\s+status\s+requester\s+action\s+waiting for\s+due in$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['ap1', 'ap3', 'es1', 'ap2']) // by creation, then id;
    const row = (id: string) => lines.find((l) => l.startsWith(`${id} `))!;
    expect(row('ap1')).toContain('call payments.refund {"orderId":"o-17","amount":900}');
    expect(row('ap1')).toMatch(/finance-lead\s+4m$/);
    expect(row('ap2')).toMatch(/cfo, coo\s+overdue 1m$/);
    expect(row('ap3')).toMatch(/executed .* -\s+-$/);
    expect(row('es1')).toMatch(/^es1\s+escalation\s+open\s+supervision\s+ERR_UNAVAILABLE ns\.task\.billing, 1 task held\s+ops\s+9m$/);
  });

  test('cli approvals - an empty list says so', () => {
    expect(renderList([], T0, false)).toBe('nothing waits for a decision\n');
    expect(renderList([], T0, true)).toBe('no approvals or escalations\n');
  });

  test('cli approvals - long args are cut in the table, never in show', () => {
    const big = item({ action: { kind: 'publish', target: 'ns.evt.x', args: { text: 'y'.repeat(200) } } });
    expect(subjectLine(big, 40).length).toBeLessThanOrEqual('publish ns.evt.x '.length + 40);
    expect(subjectLine(big, 40).endsWith('…')).toBe(true);
    expect(renderItem(big, T0)).toContain('y'.repeat(200));
    expect(actionLine({ kind: 'custom', target: 'wire-money', args: null })).toBe('custom wire-money');
  });

  test('cli approvals - show: the action and its args as JSON, the hash, the chain with the current step, the history', () => {
    const decided = item({
      status: 'executed',
      step: 1,
      decision: { by: 'alice', decision: 'approve', reason: 'known customer', at: T0 + 2_000 },
      result: { ok: true, value: { refunded: 900 } },
      history: [
        { at: T0, event: 'requested', by: 'billing/b1' },
        { at: T0 + 1_000, event: 'escalated', detail: 'step 2' },
        { at: T0 + 2_000, event: 'decided', by: 'alice', detail: 'approve' },
        { at: T0 + 2_100, event: 'executed' },
      ],
    });
    const text = renderItem(decided, T0 + 10_000);
    expect(text).toMatch(/^approval ap1: executed$/m);
    expect(text).toMatch(/^ {2}requester\s+billing\/b1 \(role billing, owner finance\)$/m);
    expect(text).toContain('action: call payments.refund\n  {\n    "orderId": "o-17",\n    "amount": 900\n  }\n');
    expect(text).toContain(`  hash ${'a'.repeat(64)}`);
    expect(text).toMatch(/^ {4}1\.\s+finance-lead\s+5m to decide$/m);
    expect(text).toMatch(/^ {4}2\.\s+cfo, coo\s+1h to decide$/m); // settled: no step is marked
    expect(text).toContain('decision: approve by alice at 2025-01-02T10:00:02.000Z: "known customer"');
    expect(text).toContain('result: ok\n  {\n    "refunded": 900\n  }');
    expect(text).toMatch(/^ {2}2025-01-02T10:00:02\.000Z\s+\+2s\s+decided\s+by alice\s+approve$/m);

    const waiting = renderItem(item(), T0 + 60_000);
    expect(waiting).toMatch(/^ {2}> 1\.\s+finance-lead\s+5m to decide\s+due 2025-01-02T10:05:00\.000Z \(4m\)$/m);
    expect(waiting).toMatch(/^ {4}2\.\s+cfo, coo/m);
  });

  test('cli approvals - show of an escalation: its reason, where, and the tasks it holds', () => {
    const text = renderItem(escalation(), T0);
    expect(text).toMatch(/^escalation es1: open$/m);
    expect(text).toContain('escalation: ERR_UNAVAILABLE: no instance of billing is running');
    expect(text).toMatch(/^ {2}subject\s+ns\.task\.billing$/m);
    expect(text).toContain('1. ns.task.billing  chain c1  (a request: reply can answer it)');
    expect(text).toContain('{"order":"o-1"}');
    expect(text).not.toContain('action:');
  });

  test('cli approvals - waiting for and due in only while a person is waited for', () => {
    expect(waitingFor(item())).toBe('finance-lead');
    expect(waitingFor(item({ status: 'denied' }))).toBe('-');
    expect(dueIn(item(), T0)).toBe('5m');
    expect(dueIn(item({ status: 'expired' }), T0)).toBe('-');
    expect(dueIn(escalation({ chain: [], deadline: 0 }), T0)).toBe('-');
  });

  test('cli approvals - the preview shows the action and hash being decided', () => {
    const text = renderPreview(item(), 'approving');
    expect(text).toMatch(/^approving approval ap1 \(pending\), raised by billing\/b1: "refund over 500"$/m);
    expect(text).toContain('  action: call payments.refund\n    {\n      "orderId": "o-17",');
    expect(text).toContain(`hash ${'a'.repeat(64)}`);
  });

  test('cli approvals - the outcome line for each end', () => {
    const by = { by: 'alice', decision: 'approve' as const, at: T0 };
    expect(outcomeLine(item({ status: 'executed', decision: by, result: { ok: true, value: { refunded: 900 } } }))).toBe(
      'approved ap1 by alice: executed call payments.refund {"orderId":"o-17","amount":900}, result {"refunded":900}',
    );
    expect(outcomeLine(item({ status: 'failed', decision: by, result: { ok: false, error: { code: 'ERR_TOOL_FAILED', message: 'bank down' } } }))).toMatch(/failed: ERR_TOOL_FAILED: bank down$/);
    expect(outcomeLine(item({ status: 'approved', decision: by }))).toMatch(/has not finished yet \(approved\)/);
    expect(outcomeLine(item({ status: 'denied', decision: { ...by, decision: 'deny' } }))).toBe('denied ap1 by alice: call payments.refund {"orderId":"o-17","amount":900} will not run');
    expect(outcomeLine(escalation({ status: 'resolved', resolution: { by: 'ops1', action: 'reroute', to: 'ns.task.b2', at: T0 } }))).toBe(
      'resolved es1 by ops1: reroute to ns.task.b2 (ERR_UNAVAILABLE ns.task.billing, 1 task held)',
    );
  });

  test('cli approvals - the people entry is JSON to paste under "people"', () => {
    const text = peopleEntry('alice', ['finance-lead'], 'PUB=');
    expect(JSON.parse(text)).toEqual({ alice: { roles: ['finance-lead'], publicKey: 'PUB=' } });
  });
});
