// `aos approvals list|show|approve|deny|act|keygen`: the human side of the approval queue. Every
// node of the namespace serves the queue (`<ns>.approval.api.*`, runtime/approvals); this file
// only finds out who decides (a person of the policy's `people` and their ed25519 key), shows
// what they are deciding before it is sent, and says what came of it. A refused or second
// decision is its code (and reason) on stderr, exit 1; a missing key says how to make one.

import type { KeyObject } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { NatsConnection } from 'nats';
import { AosError, ApprovalClient, generateApproverKey, privateKeyOf, type ApprovalItem } from '../index.js';
import { aosError, tokenProblem } from '../internal.js';
import { personName, SYNOPSIS, UsageError, type ApprovalsActFlags, type ApprovalsDecideFlags, type ApprovalsFlags, type ApprovalsKeygenFlags, type ApprovalsListFlags, type ApprovalsShowFlags, type ApproverFlags } from './args.js';
import { isSettled, outcomeLine, peopleEntry, renderItem, renderList, renderPreview } from './approvals-text.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL, namespaceSubjects } from './control-client.js';
import { describeError, progress } from './output.js';

/** How long approve waits for the approved action's result before it reports "not finished yet". */
export const DEFAULT_OUTCOME_TIMEOUT_MS = 5_000;

/** Who decides: a name from the policy's `people` and the private key their decisions are signed with. */
export interface Approver {
  name: string;
  key: KeyObject;
}

export async function runApprovalsList(flags: ApprovalsListFlags): Promise<number> {
  return withClient(flags, 'aos-approvals', async (client) => {
    const items = await client.list(flags.all === true ? { status: 'all' } : {});
    process.stdout.write(flags.json === true ? `${JSON.stringify(items, null, 2)}\n` : renderList(items, Date.now(), flags.all === true));
    return 0;
  });
}

export async function runApprovalsShow(flags: ApprovalsShowFlags): Promise<number> {
  const id = checkId(flags.id, 'approvals show');
  return withClient(flags, 'aos-approvals', async (client) => {
    const item = await refusalsAsExit(() => client.show(id));
    if (typeof item === 'number') return item;
    process.stdout.write(flags.json === true ? `${JSON.stringify(item, null, 2)}\n` : renderItem(item, Date.now()));
    return 0;
  });
}

export function runApprovalsApprove(flags: ApprovalsDecideFlags): Promise<number> {
  return decide('approve', flags);
}

export function runApprovalsDeny(flags: ApprovalsDecideFlags): Promise<number> {
  return decide('deny', flags);
}

async function decide(decision: 'approve' | 'deny', flags: ApprovalsDecideFlags): Promise<number> {
  const verb = `approvals ${decision}` as const;
  const id = checkId(flags.id, verb);
  const me = loadApprover(flags, verb);
  return withClient(flags, `aos-approvals-${decision}`, async (client, nc) => {
    const shown = await refusalsAsExit(() => client.show(id));
    if (typeof shown === 'number') return shown;
    // The person sees exactly what they decide on before anything is sent, and signs that
    // action's hash: had the action changed since, the decision would not match it.
    process.stderr.write(renderPreview(shown, decision === 'approve' ? 'approving' : 'denying'));
    const settled = watchUntilSettled(client, id);
    try {
      await nc.flush(); // the server knows of the watch before the decision can change the item
      const who = { approver: me.name, key: me.key, ...(flags.reason === undefined ? {} : { reason: flags.reason }) };
      const decided = await refusalsAsExit(() => client.decide(id, decision, who, shown.actionHash));
      if (typeof decided === 'number') return decided;
      const final = isSettled(decided) ? decided : ((await settled.within(flags.timeoutMs ?? DEFAULT_OUTCOME_TIMEOUT_MS)) ?? (await client.show(id)));
      process.stdout.write(`${outcomeLine(final)}\n`);
      return final.status === 'failed' ? 1 : 0;
    } finally {
      settled.stop();
    }
  });
}

export async function runApprovalsAct(flags: ApprovalsActFlags): Promise<number> {
  const id = checkId(flags.id, 'approvals act');
  const me = loadApprover(flags, 'approvals act');
  return withClient(flags, 'aos-approvals-act', async (client) => {
    const shown = await refusalsAsExit(() => client.show(id));
    if (typeof shown === 'number') return shown;
    const to = flags.to === undefined ? '' : ` to ${flags.to}`;
    process.stderr.write(renderPreview(shown, `${flags.action}${to}:`));
    const who = {
      approver: me.name,
      key: me.key,
      ...(flags.to === undefined ? {} : { to: flags.to }),
      ...('value' in flags ? { value: flags.value } : {}),
      ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    };
    const acted = await refusalsAsExit(() => client.act(id, flags.action, who));
    if (typeof acted === 'number') return acted;
    process.stdout.write(`${outcomeLine(acted)}\n`);
    return 0;
  });
}

/** The default key file of a person: `<name>.approver.pem` in the working directory. */
export function defaultKeyFile(name: string): string {
  return `${name}.approver.pem`;
}

export async function runApprovalsKeygen(flags: ApprovalsKeygenFlags): Promise<number> {
  const out = flags.out ?? defaultKeyFile(flags.as);
  const { privateKeyPem, publicKey } = generateApproverKey();
  try {
    // `wx`: a key is never overwritten (that would lock its person out of every decision).
    writeFileSync(out, privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw aosError('ERR_CONFIG', `${out} exists: aos never overwrites a key; choose another --out, or remove the file first`, { file: out });
    throw aosError('ERR_CONFIG', `the key file ${out} cannot be written`, { file: out }, err);
  }
  chmodSync(out, 0o600); // whatever the umask did
  progress(`wrote the private key of ${flags.as} to ${out} (mode 0600): keep it secret; it signs ${flags.as}'s decisions`);
  progress(
    flags.roles.length === 0
      ? `add this entry to the policy's "people", with at least one role that its approval chains name (or run keygen with --role ROLE), then \`aos policy apply\`:`
      : `add this entry to the policy's "people", then \`aos policy apply\`:`,
  );
  process.stdout.write(peopleEntry(flags.as, flags.roles, publicKey));
  return 0;
}

/** The person deciding, from --as/--key or AOS_APPROVER/AOS_APPROVER_KEY (a file, or the PEM itself). */
export function loadApprover(flags: Pick<ApproverFlags, 'as' | 'key'>, verb: keyof typeof SYNOPSIS, env: NodeJS.ProcessEnv = process.env): Approver {
  const fromEnv = env['AOS_APPROVER'];
  const name = flags.as ?? (fromEnv === undefined || fromEnv === '' ? undefined : personName('AOS_APPROVER', fromEnv));
  if (name === undefined) throw new UsageError(`${verb} needs to know who decides: --as NAME (or AOS_APPROVER), a person in the policy's people`, false, SYNOPSIS[verb]);
  const ref = flags.key ?? (env['AOS_APPROVER_KEY'] === '' ? undefined : env['AOS_APPROVER_KEY']);
  const hint = (out: string) => `make one with \`aos approvals keygen --as ${name}${out}\` and put the entry it prints in the policy's people`;
  if (ref === undefined) throw new UsageError(`${verb} needs ${name}'s private key: --key FILE (or AOS_APPROVER_KEY); ${hint('')}`, false, SYNOPSIS[verb]);
  if (ref.trimStart().startsWith('-----BEGIN')) return { name, key: keyOf(ref, 'AOS_APPROVER_KEY') };
  let pem: string;
  try {
    pem = readFileSync(ref, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw aosError('ERR_CONFIG', `there is no key file ${ref}: ${hint(` --out ${ref}`)}`, { file: ref });
    throw aosError('ERR_CONFIG', `cannot read the key file ${ref}`, { file: ref }, err);
  }
  try {
    // Like ssh: a key others can read is no longer only this person's.
    if ((statSync(ref).mode & 0o077) !== 0) progress(`warning: ${ref} can be read by others (chmod 600 ${ref})`);
  } catch {
    // read just now; a race with its removal changes nothing here
  }
  return { name, key: keyOf(pem, ref) };
}

function keyOf(pem: string, source: string): KeyObject {
  try {
    return privateKeyOf(pem);
  } catch (err) {
    if (err instanceof AosError) throw aosError(err.code, `${source}: ${err.message}`, { ...err.details, file: source }, err.cause ?? err);
    throw err;
  }
}

/** An approval id is one subject token (it names `<ns>.approval.<id>`). */
function checkId(id: string, verb: keyof typeof SYNOPSIS): string {
  const problem = tokenProblem(id);
  if (problem !== undefined) throw new UsageError(`${JSON.stringify(id)} is not an approval id: it ${problem}`, false, SYNOPSIS[verb]);
  return id;
}

/**
 * Runs `call`; an error the queue answered with (not found, refused, already decided) becomes its
 * one line on stderr — with details.reason when there is one — and exit code 1.
 */
async function refusalsAsExit<T>(call: () => Promise<T>): Promise<T | number> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof AosError) || !err.code.startsWith('ERR_APPROVAL_')) throw err;
    const reason = typeof err.details['reason'] === 'string' ? ` (reason: ${err.details['reason']})` : '';
    process.stderr.write(`aos: ${describeError(err)}${reason}\n`);
    return 1;
  }
}

async function withClient(flags: ApprovalsFlags, name: string, run: (client: ApprovalClient, nc: NatsConnection) => Promise<number>): Promise<number> {
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  namespaceSubjects(namespace); // a bad --namespace is a usage error, before connecting
  const nc = await connectNats(url, name);
  try {
    return await run(new ApprovalClient(nc, { namespace }), nc);
  } finally {
    await nc.close();
  }
}

/** Watches the item's events (`<ns>.approval.<id>`) for it settling: executed, failed, denied... */
function watchUntilSettled(client: ApprovalClient, id: string): { within(ms: number): Promise<ApprovalItem | undefined>; stop(): void } {
  let latest: ApprovalItem | undefined;
  let wake: (() => void) | undefined;
  const sub = client.watch(id, (e) => {
    if (e.item !== undefined && isSettled(e.item)) {
      latest = e.item;
      wake?.();
    }
  });
  return {
    within: async (ms) => {
      if (latest !== undefined) return latest;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      return latest;
    },
    stop: () => sub.unsubscribe(),
  };
}
