#!/usr/bin/env node
// The `aos` command: dispatches a verb (start, tree, policy, suspend, resume, trace, approvals, demo, help) and
// turns every failure into one line on stderr and an exit code: 0 done, 1 runtime error
// (`aos: <CODE>: <message>`; an invalid policy also lists its problems, one per line),
// 2 wrong usage or an invalid config file.

import { parseCommand, SYNOPSIS, UsageError } from './args.js';

const USAGE = `usage: aos <command> [flags]

commands:
  start          run a node: ${SYNOPSIS.start}
  tree           show the supervision tree of every node: ${SYNOPSIS.tree}
  policy check   validate a policy file (no NATS needed): ${SYNOPSIS['policy check']}
  policy apply   validate a policy file, then apply it to every node: ${SYNOPSIS['policy apply']}
  policy show    the policy and suspensions in force on every node: ${SYNOPSIS['policy show']}
  suspend        the kill switch: deny every further action of an actor or a role: ${SYNOPSIS.suspend}
  resume         lift a suspension: ${SYNOPSIS.resume}
  trace verify   check a hash-chained trace log file (no NATS needed) or stream: ${SYNOPSIS['trace verify']}
  trace tail     print trace records as the nodes publish them, until Ctrl-C: ${SYNOPSIS['trace tail']}
  trace show     the causal tree of one chain of work: ${SYNOPSIS['trace show']}
  trace stats    per actor: turns, failures, denials, p50/p99 turn time: ${SYNOPSIS['trace stats']}
  trace html     one chain of work as a sequence diagram, in a self-contained HTML page: ${SYNOPSIS['trace html']}
  approvals list     what waits for a person: approval requests and escalations: ${SYNOPSIS['approvals list']}
  approvals show     one request or escalation: its action and args, hash, chain and history: ${SYNOPSIS['approvals show']}
  approvals approve  approve a request; its action runs once: ${SYNOPSIS['approvals approve']}
  approvals deny     deny a request: ${SYNOPSIS['approvals deny']}
  approvals act      act on an escalation (restart, reroute, drop, or reply in the agent's place): ${SYNOPSIS['approvals act']}
  approvals keygen   a signing key for a person who decides, and the policy entry for it: ${SYNOPSIS['approvals keygen']}
  demo           run a support-desk demo on an embedded NATS, under cli/demo/policy.json: agents hand tickets to each other, then exit
  help           show this text

Without --nats, start runs an embedded nats-server (found on PATH, in /usr/sbin, or at NATS_SERVER_BIN).
The config file is JSON: {"nats"?, "namespace"?, "nodeId"?, "threads"?, "policy"?, "actors": [{"module", "type", "key", "tasks"?}]};
module and policy paths are relative to the config file, and flags override the file.
The other commands talk to the nodes on a NATS (without --nats: nats://127.0.0.1:4222; a node started
without --nats runs its own server, so pass the URL its ready line printed) in a namespace (default aos).
tree and policy show print what answers within --timeout ms (default 500); --json prints the replies as JSON.

A policy file is JSON: roles with their grants, limits and approval rules, and the role of each actor
type (see the README). A node started with --policy offers it to the namespace; a policy already stored
there wins. policy check exits 0 printing the policy's version, or 1 listing every problem by path.
policy apply refuses an invalid file (nothing is written), stores the policy in the namespace's
JetStream KV bucket, and waits up to --timeout ms (default 5000) until every node that answers runs the
new version; nodes still on another version are listed, and the exit code is 1. suspend and resume
write to the same bucket and wait the same way. A target is an AgentId (type/key) or role:NAME (every
actor type that plays the role); a suspended actor's in-flight turn is aborted and it takes no more
turns until it is resumed.

trace verify reads a trace log and its FILE.head sidecar (or a trace stream: --stream NAME, over --nats) and prints
\`ok: N records in B batches, M checkpoints, head <hash> (seq S)\`, or exits 1 naming the first entry that was edited,
deleted, reordered, malformed or cut off, and what it holds: \`FAIL: <kind> at line L (seq S; node N, batch B,
records X-Y): <detail>\`; --json prints the report as JSON.

trace tail listens to every node's trace batches on <ns>.trace.> (a bystander: the tracer acknowledges them)
and prints one line per record: --actor keeps one actor's records, --type a record type (decision, supervision)
or an envelope event (received, turn.finished, sent, replied, failed, retried, dead-lettered), --denied the
denials and the envelope events that ended in an error; --limit N exits after N records; --json prints each record.
With --stream NAME it prints the last records of that trace stream (--limit, default 50) and exits.
trace show, stats and html read a trace log with --file LOG or a trace stream with --stream NAME (checkpoints
skipped; a log that does not verify is read with a warning), or ask the namespace's tracer over NATS (the first answer within --timeout ms, default 2000).
A correlationId may be abbreviated with --file (8 hex digits or more, when one chain matches). show prints the
chain as an indented tree: each message under the one whose handling sent it, with times from the chain's start,
turns, replies, denials, failures, retries, restarts and dead letters; stats prints a table per actor. html
writes a page (inline CSS and SVG: no network) to --out (default trace-<correlationId>.html; - for stdout).
Each exits 1 when there is nothing to show (no such chain, no tracer answered).

approvals talks to the namespace's approval queue, which every node serves. list shows what waits for a
decision (--all: settled items too): id, kind, status, requester, action, who the current step waits for,
and when it runs out. show prints one item in full. approve, deny and act sign the decision as a person
of the policy's people: --as NAME and --key FILE (a PEM private key), or AOS_APPROVER and AOS_APPROVER_KEY
(a file, or the PEM itself). They show the action before sending; approve then waits up to --timeout ms
(default 5000) for the action's result. A refused decision prints its code and reason
(\`aos: ERR_APPROVAL_REFUSED: … (reason: not-approver)\`), a second one ERR_APPROVAL_DECIDED: exit 1, as for
an approved action that failed. act: reroute needs --to TARGET, reply needs --value JSON.
keygen writes a new ed25519 private key (mode 0600; default NAME.approver.pem, never overwritten) and prints
the people entry ({"NAME": {"roles": [...], "publicKey": "..."}}) to add to the policy.
`;

async function main(argv: readonly string[]): Promise<number> {
  try {
    const cmd = parseCommand(argv);
    switch (cmd.verb) {
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      // Loaded on demand: `aos help` and usage errors stay fast, without the runtime's imports.
      case 'start':
        return await (await import('./start.js')).runStart(cmd.flags);
      case 'tree':
        return await (await import('./tree.js')).runTree(cmd.flags);
      case 'policy check':
        return await (await import('./policy.js')).runPolicyCheck(cmd.flags);
      case 'policy apply':
        return await (await import('./policy.js')).runPolicyApply(cmd.flags);
      case 'policy show':
        return await (await import('./policy.js')).runPolicyShow(cmd.flags);
      case 'suspend':
        return await (await import('./suspend.js')).runSuspend(cmd.flags);
      case 'resume':
        return await (await import('./suspend.js')).runResume(cmd.flags);
      case 'trace verify':
        return await (await import('./trace-verify.js')).runTraceVerify(cmd.flags);
      case 'trace tail':
        return await (await import('./trace.js')).runTraceTail(cmd.flags);
      case 'trace show':
        return await (await import('./trace.js')).runTraceShow(cmd.flags);
      case 'trace stats':
        return await (await import('./trace.js')).runTraceStats(cmd.flags);
      case 'trace html':
        return await (await import('./trace.js')).runTraceHtml(cmd.flags);
      case 'approvals list':
        return await (await import('./approvals.js')).runApprovalsList(cmd.flags);
      case 'approvals show':
        return await (await import('./approvals.js')).runApprovalsShow(cmd.flags);
      case 'approvals approve':
        return await (await import('./approvals.js')).runApprovalsApprove(cmd.flags);
      case 'approvals deny':
        return await (await import('./approvals.js')).runApprovalsDeny(cmd.flags);
      case 'approvals act':
        return await (await import('./approvals.js')).runApprovalsAct(cmd.flags);
      case 'approvals keygen':
        return await (await import('./approvals.js')).runApprovalsKeygen(cmd.flags);
      case 'demo':
        return await (await import('./demo.js')).runDemo();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      const tail = err.showUsage ? `\n${USAGE}` : err.synopsis !== undefined ? `usage: ${err.synopsis}\n` : '';
      process.stderr.write(err.showUsage || err.synopsis !== undefined ? `aos: ${err.message}\n${tail}` : `aos: ${err.message} (see \`aos help\`)\n`);
      return 2;
    }
    const { ConfigFileError } = await import('./node-config.js');
    if (err instanceof ConfigFileError) {
      process.stderr.write(`aos: ${err.message}\n`);
      return 2;
    }
    const { describeError, describePolicyError } = await import('./output.js');
    process.stderr.write(`aos: ${describePolicyError(err) ?? describeError(err)}\n`);
    if (process.env['AOS_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// Exit explicitly: a node leaves nothing behind that should keep the process alive, and an
// explicit exit makes sure a stray handle never turns `aos demo` into a hang.
process.exit(await main(process.argv.slice(2)));
