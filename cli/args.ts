// Command-line parsing for `aos`: a verb, then that verb's flags (node:util parseArgs,
// strict: an unknown flag or a missing value is a usage error, exit code 2).

import { parseArgs } from 'node:util';

/**
 * Wrong usage of the command line: exit code 2, with the whole usage text when the verb itself
 * is wrong, or the one command's synopsis when its arguments are.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
    readonly synopsis?: string,
  ) {
    super(message);
  }
}

/** One line per command, shown by `aos help` and under a usage error of that command. */
export const SYNOPSIS = {
  start: 'aos start [--nats URL] [--config FILE] [--policy FILE] [--trace LOG [--trace-rotate-mb N [--trace-keep-segments N] [--trace-keep-days N]] [--trace-anchor-s N] [--ui] [--ui-port N] | --trace-stream NAME] [--namespace NS] [--node-id ID] [--threads N] [--log-level LEVEL]',
  tree: 'aos tree [--nats URL] [--namespace NS] [--timeout MS] [--json]',
  'policy check': 'aos policy check FILE [--namespace NS]',
  'policy apply': 'aos policy apply FILE [--nats URL] [--namespace NS] [--timeout MS]',
  'policy show': 'aos policy show [--nats URL] [--namespace NS] [--timeout MS] [--json]',
  suspend: 'aos suspend <type/key|role:NAME> [--reason TEXT] [--nats URL] [--namespace NS] [--timeout MS]',
  resume: 'aos resume <type/key|role:NAME> [--nats URL] [--namespace NS] [--timeout MS]',
  'trace verify': 'aos trace verify FILE [--anchors [--nats URL] [--namespace NS]] | --stream NAME [--nats URL] [--complete] [--json]',
  'trace tail': 'aos trace tail [--actor ID] [--type T] [--denied] [--limit N] [--stream NAME] [--nats URL] [--namespace NS] [--json]',
  'trace show': 'aos trace show <correlationId> [--file LOG | --stream NAME [--nats URL] | --nats URL [--namespace NS] [--timeout MS]] [--json]',
  'trace stats': 'aos trace stats [--file LOG | --stream NAME [--nats URL] | --nats URL [--namespace NS] [--timeout MS]] [--json]',
  'trace html': 'aos trace html <correlationId> [--file LOG | --stream NAME [--nats URL] | --nats URL [--namespace NS] [--timeout MS]] [--out FILE]',
  'approvals list': 'aos approvals list [--all] [--json] [--nats URL] [--namespace NS]',
  'approvals show': 'aos approvals show <id> [--json] [--nats URL] [--namespace NS]',
  'approvals approve': 'aos approvals approve <id> [--reason TEXT] [--as NAME] [--key FILE] [--nats URL] [--namespace NS] [--timeout MS]',
  'approvals deny': 'aos approvals deny <id> [--reason TEXT] [--as NAME] [--key FILE] [--nats URL] [--namespace NS] [--timeout MS]',
  'approvals act': 'aos approvals act <id> restart|reroute|drop|reply [--to TARGET] [--value JSON] [--reason TEXT] [--as NAME] [--key FILE] [--nats URL] [--namespace NS] [--timeout MS]',
  'approvals keygen': 'aos approvals keygen --as NAME [--role ROLE]... [--out FILE]',
  demo: 'aos demo',
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface StartFlags {
  nats?: string;
  config?: string;
  /** A policy file for this node (the namespace's stored policy, if any, wins). */
  policy?: string;
  /** Run a tracer on this node, appending the namespace's trace to this hash-chained log. */
  trace?: string;
  /** Past this many megabytes, the --trace log's file becomes a segment and a new one continues the chain. */
  traceRotateMb?: number;
  traceKeepSegments?: number;
  /** With traceRotateMb: segments whose last entry is older than this many days are deleted. */
  traceKeepDays?: number;
  /** Anchor the --trace log's head in the namespace's trace anchors stream every this many seconds. */
  traceAnchorS?: number;
  /** Run a tracer on this node, appending the namespace's trace to this JetStream stream (shared with other nodes' tracers). */
  traceStream?: string;
  /** Serve the trace page (cli/trace-ui.ts) over the --trace log on 127.0.0.1. */
  ui?: boolean;
  /** The page's port (default 0: a free one). */
  uiPort?: number;
  namespace?: string;
  nodeId?: string;
  threads?: number;
  logLevel?: LogLevel;
}


/** The flags of every command that talks to the nodes of a namespace. */
export interface NodesFlags {
  nats?: string;
  namespace?: string;
  /** How long to wait for the nodes' answers, in ms. */
  timeoutMs?: number;
}

export interface TreeFlags extends NodesFlags {
  json?: boolean;
}

export interface PolicyCheckFlags {
  file: string;
  namespace?: string;
}

export interface PolicyApplyFlags extends NodesFlags {
  file: string;
}

export interface PolicyShowFlags extends NodesFlags {
  json?: boolean;
}

export interface SuspendFlags extends NodesFlags {
  /** `type/key` or `role:<name>`, as typed (checked when the command runs). */
  target: string;
  reason?: string;
}

/** A log file, or a stream (read over --nats): exactly one. */
export interface TraceVerifyFlags {
  file?: string;
  stream?: string;
  nats?: string;
  json?: boolean;
  /** Fail when entries from seq 1 on are missing and the log's own retention did not delete them. */
  complete?: boolean;
  /** Check the log against its anchors in the namespace's trace anchors stream (over --nats). */
  anchors?: boolean;
  namespace?: string;
}

export interface TraceTailFlags {
  nats?: string;
  namespace?: string;
  /** Records of this actor only (the record's `actor`). */
  actor?: string;
  /** A record type (`decision`, `supervision`...) or an envelope event (`turn.finished`, `dead-lettered`...). */
  type?: string;
  /** Denials only: decisions that did not allow, and envelope events with an error outcome. */
  denied?: boolean;
  /** Stop after this many records (default: until SIGINT; with --stream, 50). */
  limit?: number;
  /** Print the last records of this trace stream instead of following the nodes. */
  stream?: string;
  json?: boolean;
}

/** Where show, stats and html read the trace: a log file, a trace stream, or the tracer over NATS. */
export interface TraceSourceFlags extends NodesFlags {
  file?: string;
  stream?: string;
}

export interface TraceShowFlags extends TraceSourceFlags {
  correlationId: string;
  json?: boolean;
}

export interface TraceStatsFlags extends TraceSourceFlags {
  json?: boolean;
}

export interface TraceHtmlFlags extends TraceSourceFlags {
  correlationId: string;
  /** The page's file (default `trace-<correlationId>.html`; `-` for stdout). */
  out?: string;
}

/** The flags of every approvals command (the queue is served by every node of the namespace). */
export interface ApprovalsFlags {
  nats?: string;
  namespace?: string;
}

export interface ApprovalsListFlags extends ApprovalsFlags {
  /** Every item, settled ones too (default: the open ones). */
  all?: boolean;
  json?: boolean;
}

export interface ApprovalsShowFlags extends ApprovalsFlags {
  id: string;
  json?: boolean;
}

/** Who decides: a person of the policy's `people` and their private key (flags, else AOS_APPROVER / AOS_APPROVER_KEY). */
export interface ApproverFlags extends ApprovalsFlags {
  as?: string;
  key?: string;
  reason?: string;
  /** How long to wait for the approved action's result, in ms. */
  timeoutMs?: number;
}

export interface ApprovalsDecideFlags extends ApproverFlags {
  id: string;
}

export const ESCALATION_ACTIONS = ['restart', 'reroute', 'drop', 'reply'] as const;
export type EscalationActionName = (typeof ESCALATION_ACTIONS)[number];

export interface ApprovalsActFlags extends ApproverFlags {
  id: string;
  action: EscalationActionName;
  /** reroute: the subject or AgentId the held tasks go to. */
  to?: string;
  /** reply: the answer given in the agent's place (parsed JSON). */
  value?: unknown;
}

export interface ApprovalsKeygenFlags {
  as: string;
  roles: string[];
  out?: string;
}

export type Command =
  | { verb: 'help' }
  | { verb: 'start'; flags: StartFlags }
  | { verb: 'tree'; flags: TreeFlags }
  | { verb: 'policy check'; flags: PolicyCheckFlags }
  | { verb: 'policy apply'; flags: PolicyApplyFlags }
  | { verb: 'policy show'; flags: PolicyShowFlags }
  | { verb: 'suspend'; flags: SuspendFlags }
  | { verb: 'resume'; flags: SuspendFlags }
  | { verb: 'trace verify'; flags: TraceVerifyFlags }
  | { verb: 'trace tail'; flags: TraceTailFlags }
  | { verb: 'trace show'; flags: TraceShowFlags }
  | { verb: 'trace stats'; flags: TraceStatsFlags }
  | { verb: 'trace html'; flags: TraceHtmlFlags }
  | { verb: 'approvals list'; flags: ApprovalsListFlags }
  | { verb: 'approvals show'; flags: ApprovalsShowFlags }
  | { verb: 'approvals approve'; flags: ApprovalsDecideFlags }
  | { verb: 'approvals deny'; flags: ApprovalsDecideFlags }
  | { verb: 'approvals act'; flags: ApprovalsActFlags }
  | { verb: 'approvals keygen'; flags: ApprovalsKeygenFlags }
  | { verb: 'demo' };

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const NODES = { ...HELP, nats: { type: 'string' }, namespace: { type: 'string' }, timeout: { type: 'string' } } as const;

export function parseCommand(argv: readonly string[]): Command {
  try {
    return parseVerb(argv);
  } catch (err) {
    // A command's own usage error shows that command's synopsis.
    const key = argv[0] === 'policy' || argv[0] === 'trace' || argv[0] === 'approvals' ? `${argv[0]} ${argv[1]}` : argv[0];
    if (err instanceof UsageError && !err.showUsage && err.synopsis === undefined && key !== undefined && Object.hasOwn(SYNOPSIS, key)) {
      throw new UsageError(err.message, false, SYNOPSIS[key as keyof typeof SYNOPSIS]);
    }
    throw err;
  }
}

function parseVerb(argv: readonly string[]): Command {
  const [verb, ...rest] = argv;
  switch (verb) {
    case undefined:
      throw new UsageError('no command given', true);
    case 'help':
    case '--help':
    case '-h':
      return { verb: 'help' };
    case 'start':
      return parseStart(rest);
    case 'tree':
      return parseTree(rest);
    case 'policy':
      return parsePolicyCommand(rest);
    case 'trace':
      return parseTraceCommand(rest);
    case 'suspend':
    case 'resume':
      return parseSuspend(verb, rest);
    case 'approvals':
      return parseApprovalsCommand(rest);
    case 'demo': {
      const { values } = parse(() => parseArgs({ args: rest, options: HELP, strict: true }));
      return values.help === true ? { verb: 'help' } : { verb: 'demo' };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(verb)}`, true);
  }
}

function parseStart(args: string[]): Command {
  const options = {
    ...HELP,
    nats: { type: 'string' },
    config: { type: 'string', short: 'c' },
    policy: { type: 'string' },
    trace: { type: 'string' },
    'trace-stream': { type: 'string' },
    'trace-rotate-mb': { type: 'string' },
    'trace-keep-segments': { type: 'string' },
    'trace-keep-days': { type: 'string' },
    'trace-anchor-s': { type: 'string' },
    ui: { type: 'boolean' },
    'ui-port': { type: 'string' },
    namespace: { type: 'string' },
    'node-id': { type: 'string' },
    threads: { type: 'string' },
    'log-level': { type: 'string' },
  } as const;
  const { values } = parse(() => parseArgs({ args, options, strict: true }));
  if (values.help === true) return { verb: 'help' };
  const flags: StartFlags = {};
  if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
  if (values.config !== undefined) flags.config = nonEmpty('--config', values.config);
  if (values.policy !== undefined) flags.policy = nonEmpty('--policy', values.policy);
  if (values.trace !== undefined) flags.trace = nonEmpty('--trace', values.trace);
  if (values['trace-stream'] !== undefined) {
    if (flags.trace !== undefined) throw new UsageError('--trace LOG and --trace-stream NAME both name the log: give one');
    flags.traceStream = nonEmpty('--trace-stream', values['trace-stream']);
  }
  if (values['trace-rotate-mb'] !== undefined) {
    if (flags.trace === undefined) throw new UsageError('--trace-rotate-mb starts new segments of a --trace LOG: give it one');
    if (!/^[1-9]\d{0,6}$/.test(values['trace-rotate-mb'])) throw new UsageError(`--trace-rotate-mb must be a positive number of megabytes, got ${JSON.stringify(values['trace-rotate-mb'])}`);
    flags.traceRotateMb = Number(values['trace-rotate-mb']);
  }
  if (values['trace-keep-segments'] !== undefined) {
    if (flags.traceRotateMb === undefined) throw new UsageError('--trace-keep-segments keeps the newest segments of a --trace LOG that --trace-rotate-mb splits: give both');
    if (!/^\d{1,6}$/.test(values['trace-keep-segments'])) throw new UsageError(`--trace-keep-segments must be a whole number of segments (0 or more), got ${JSON.stringify(values['trace-keep-segments'])}`);
    flags.traceKeepSegments = Number(values['trace-keep-segments']);
  }
  if (values['trace-keep-days'] !== undefined) {
    if (flags.traceRotateMb === undefined) throw new UsageError('--trace-keep-days deletes the old segments of a --trace LOG that --trace-rotate-mb splits: give both');
    if (!/^[1-9]\d{0,4}$/.test(values['trace-keep-days'])) throw new UsageError(`--trace-keep-days must be a positive whole number of days, got ${JSON.stringify(values['trace-keep-days'])}`);
    flags.traceKeepDays = Number(values['trace-keep-days']);
  }
  if (values['trace-anchor-s'] !== undefined) {
    if (flags.trace === undefined) throw new UsageError('--trace-anchor-s anchors the head of a --trace LOG: give it one');
    if (!/^[1-9]\d{0,5}$/.test(values['trace-anchor-s'])) throw new UsageError(`--trace-anchor-s must be a positive whole number of seconds, got ${JSON.stringify(values['trace-anchor-s'])}`);
    flags.traceAnchorS = Number(values['trace-anchor-s']);
  }
  if (values['ui-port'] !== undefined) {
    if (values.ui !== true) throw new UsageError('--ui-port needs --ui');
    if (!/^\d{1,5}$/.test(values['ui-port']) || Number(values['ui-port']) > 65_535) throw new UsageError(`--ui-port must be a port from 0 to 65535, got ${JSON.stringify(values['ui-port'])}`);
    flags.uiPort = Number(values['ui-port']);
  }
  if (values.ui === true) {
    // The page reads the log the node's tracer writes: no tracer, nothing to show.
    if (flags.trace === undefined) throw new UsageError('--ui shows the trace log: give it one with --trace LOG');
    flags.ui = true;
  }
  if (values.namespace !== undefined) flags.namespace = nonEmpty('--namespace', values.namespace);
  if (values['node-id'] !== undefined) flags.nodeId = nonEmpty('--node-id', values['node-id']);
  if (values.threads !== undefined) {
    if (!/^[1-9]\d{0,2}$/.test(values.threads)) throw new UsageError(`--threads must be a positive integer, got ${JSON.stringify(values.threads)}`);
    flags.threads = Number(values.threads);
  }
  const level = values['log-level'];
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    flags.logLevel = level as LogLevel;
  }
  return { verb: 'start', flags };
}

function parseTree(args: string[]): Command {
  const options = { ...NODES, json: { type: 'boolean' } } as const;
  const { values } = parse(() => parseArgs({ args, options, strict: true }));
  if (values.help === true) return { verb: 'help' };
  const flags: TreeFlags = nodesFlags(values);
  if (values.json === true) flags.json = true;
  return { verb: 'tree', flags };
}

function parsePolicyCommand(args: string[]): Command {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'check': {
      const options = { ...HELP, namespace: { type: 'string' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      const flags: PolicyCheckFlags = { file: onePositional(positionals, 'a policy FILE', 'policy check') };
      if (values.namespace !== undefined) flags.namespace = nonEmpty('--namespace', values.namespace);
      return { verb: 'policy check', flags };
    }
    case 'apply': {
      const { values, positionals } = parse(() => parseArgs({ args: rest, options: NODES, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      return { verb: 'policy apply', flags: { ...nodesFlags(values), file: onePositional(positionals, 'a policy FILE', 'policy apply') } };
    }
    case 'show': {
      const options = { ...NODES, json: { type: 'boolean' } } as const;
      const { values } = parse(() => parseArgs({ args: rest, options, strict: true }));
      if (values.help === true) return { verb: 'help' };
      const flags: PolicyShowFlags = nodesFlags(values);
      if (values.json === true) flags.json = true;
      return { verb: 'policy show', flags };
    }
    case 'help':
    case '--help':
    case '-h':
      return { verb: 'help' };
    case undefined:
      throw new UsageError('policy needs a subcommand: check, apply or show', true);
    default:
      throw new UsageError(`unknown policy subcommand ${JSON.stringify(sub)} (check, apply or show)`, true);
  }
}

function parseTraceCommand(args: string[]): Command {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'verify': {
      const options = { ...HELP, json: { type: 'boolean' }, complete: { type: 'boolean' }, anchors: { type: 'boolean' }, namespace: { type: 'string' }, stream: { type: 'string' }, nats: { type: 'string' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      let flags: TraceVerifyFlags;
      if (values.stream !== undefined) {
        if (positionals.length > 0) throw new UsageError('trace verify reads a log FILE or a --stream NAME: give one');
        flags = { stream: nonEmpty('--stream', values.stream) };
        if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
        if (values.anchors === true) throw new UsageError('--anchors checks a log FILE against its anchors; a stream is its own witness');
      } else {
        if (values.nats !== undefined && values.anchors !== true) throw new UsageError('--nats reaches a trace stream or the anchors: give it with --stream NAME or --anchors');
        flags = { file: onePositional(positionals, 'a log FILE (or --stream NAME)', 'trace verify') };
        if (values.anchors === true) {
          flags.anchors = true;
          if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
        }
      }
      if (values.namespace !== undefined) {
        if (flags.anchors !== true) throw new UsageError('--namespace names the anchors stream: give it with --anchors');
        flags.namespace = nonEmpty('--namespace', values.namespace);
      }
      if (values.json === true) flags.json = true;
      if (values.complete === true) flags.complete = true;
      return { verb: 'trace verify', flags };
    }
    case 'tail': {
      const options = { ...HELP, nats: { type: 'string' }, namespace: { type: 'string' }, actor: { type: 'string' }, type: { type: 'string' }, denied: { type: 'boolean' }, limit: { type: 'string' }, stream: { type: 'string' }, json: { type: 'boolean' } } as const;
      const { values } = parse(() => parseArgs({ args: rest, options, strict: true }));
      if (values.help === true) return { verb: 'help' };
      const flags: TraceTailFlags = nodesFlags(values);
      if (values.actor !== undefined) flags.actor = nonEmpty('--actor', values.actor);
      if (values.type !== undefined) flags.type = nonEmpty('--type', values.type);
      if (values.denied === true) flags.denied = true;
      if (values.limit !== undefined) {
        if (!/^[1-9]\d{0,8}$/.test(values.limit)) throw new UsageError(`--limit must be a positive whole number, got ${JSON.stringify(values.limit)}`);
        flags.limit = Number(values.limit);
      }
      if (values.stream !== undefined) {
        if (values.namespace !== undefined) throw new UsageError('--stream reads the stream (its name is enough): --namespace follows the nodes instead');
        flags.stream = nonEmpty('--stream', values.stream);
      }
      if (values.json === true) flags.json = true;
      return { verb: 'trace tail', flags };
    }
    case 'show':
    case 'html': {
      const options = { ...NODES, file: { type: 'string' }, stream: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      const source = traceSource(values);
      const correlationId = onePositional(positionals, 'a correlationId', `trace ${sub}`);
      if (sub === 'show') {
        if (values.out !== undefined) throw new UsageError('trace show takes no --out (trace html writes a page)');
        return { verb: 'trace show', flags: { ...source, correlationId, ...(values.json === true ? { json: true } : {}) } };
      }
      if (values.json === true) throw new UsageError('trace html takes no --json (trace show --json prints the chain as JSON)');
      return { verb: 'trace html', flags: { ...source, correlationId, ...(values.out === undefined ? {} : { out: nonEmpty('--out', values.out) }) } };
    }
    case 'stats': {
      const options = { ...NODES, file: { type: 'string' }, stream: { type: 'string' }, json: { type: 'boolean' } } as const;
      const { values } = parse(() => parseArgs({ args: rest, options, strict: true }));
      if (values.help === true) return { verb: 'help' };
      return { verb: 'trace stats', flags: { ...traceSource(values), ...(values.json === true ? { json: true } : {}) } };
    }
    case 'help':
    case '--help':
    case '-h':
      return { verb: 'help' };
    case undefined:
      throw new UsageError('trace needs a subcommand: verify, tail, show, stats or html', true);
    default:
      throw new UsageError(`unknown trace subcommand ${JSON.stringify(sub)} (verify, tail, show, stats or html)`, true);
  }
}

function parseSuspend(verb: 'suspend' | 'resume', args: string[]): Command {
  const options = { ...NODES, reason: { type: 'string' } } as const;
  const { values, positionals } = parse(() => parseArgs({ args, options, strict: true, allowPositionals: true }));
  if (values.help === true) return { verb: 'help' };
  const flags: SuspendFlags = { ...nodesFlags(values), target: onePositional(positionals, 'a target (type/key or role:NAME)', verb) };
  if (values.reason !== undefined) {
    if (verb === 'resume') throw new UsageError('resume takes no --reason (a suspension has one; lifting it does not)');
    flags.reason = nonEmpty('--reason', values.reason);
  }
  return { verb, flags };
}

function parseApprovalsCommand(args: string[]): Command {
  const [sub, ...rest] = args;
  const CONNECT = { ...HELP, nats: { type: 'string' }, namespace: { type: 'string' } } as const;
  const DECIDE = { ...CONNECT, timeout: { type: 'string' }, reason: { type: 'string' }, as: { type: 'string' }, key: { type: 'string' } } as const;
  switch (sub) {
    case 'list': {
      const options = { ...CONNECT, all: { type: 'boolean' }, json: { type: 'boolean' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      if (positionals.length > 0) throw new UsageError(`approvals list takes no argument, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
      const flags: ApprovalsListFlags = connectFlags(values);
      if (values.all === true) flags.all = true;
      if (values.json === true) flags.json = true;
      return { verb: 'approvals list', flags };
    }
    case 'show': {
      const options = { ...CONNECT, json: { type: 'boolean' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      const flags: ApprovalsShowFlags = { ...connectFlags(values), id: onePositional(positionals, 'an approval id', 'approvals show') };
      if (values.json === true) flags.json = true;
      return { verb: 'approvals show', flags };
    }
    case 'approve':
    case 'deny': {
      const { values, positionals } = parse(() => parseArgs({ args: rest, options: DECIDE, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      return { verb: `approvals ${sub}`, flags: { ...approverFlags(values), id: onePositional(positionals, 'an approval id', `approvals ${sub}`) } };
    }
    case 'act': {
      const options = { ...DECIDE, to: { type: 'string' }, value: { type: 'string' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      if (positionals.length !== 2 || positionals[0] === '') {
        throw new UsageError(`approvals act needs an escalation id and an action (${ESCALATION_ACTIONS.join(', ')}), got ${positionals.length} argument(s)`);
      }
      const [id, action] = positionals as [string, string];
      if (!(ESCALATION_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`approvals act: the action must be one of ${ESCALATION_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
      const flags: ApprovalsActFlags = { ...approverFlags(values), id, action: action as EscalationActionName };
      if (values.to !== undefined) {
        if (action !== 'reroute') throw new UsageError(`--to names where reroute sends the held tasks: ${action} takes none`);
        flags.to = nonEmpty('--to', values.to);
      } else if (action === 'reroute') {
        throw new UsageError('reroute needs --to TARGET (a subject or an AgentId type/key)');
      }
      if (values.value !== undefined) {
        if (action !== 'reply') throw new UsageError(`--value is the answer given in the agent's place: ${action} takes none`);
        try {
          flags.value = JSON.parse(values.value);
        } catch (err) {
          throw new UsageError(`--value must be JSON (a string in quotes: '"text"'): ${(err as Error).message}`);
        }
      } else if (action === 'reply') {
        throw new UsageError('reply needs --value JSON (the answer sent in the agent\'s place)');
      }
      return { verb: 'approvals act', flags };
    }
    case 'keygen': {
      const options = { ...HELP, as: { type: 'string' }, role: { type: 'string', multiple: true }, out: { type: 'string' } } as const;
      const { values, positionals } = parse(() => parseArgs({ args: rest, options, strict: true, allowPositionals: true }));
      if (values.help === true) return { verb: 'help' };
      if (positionals.length > 0) throw new UsageError(`approvals keygen takes no argument, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
      if (values.as === undefined) throw new UsageError('approvals keygen needs --as NAME (the person\'s name in the policy\'s people)');
      const flags: ApprovalsKeygenFlags = { as: personName('--as', values.as), roles: (values.role ?? []).map((r) => nonEmpty('--role', r)) };
      if (values.out !== undefined) flags.out = nonEmpty('--out', values.out);
      return { verb: 'approvals keygen', flags };
    }
    case 'help':
    case '--help':
    case '-h':
      return { verb: 'help' };
    case undefined:
      throw new UsageError('approvals needs a subcommand: list, show, approve, deny, act or keygen', true);
    default:
      throw new UsageError(`unknown approvals subcommand ${JSON.stringify(sub)} (list, show, approve, deny, act or keygen)`, true);
  }
}

function connectFlags(values: { nats?: string; namespace?: string }): ApprovalsFlags {
  const flags: ApprovalsFlags = {};
  if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
  if (values.namespace !== undefined) flags.namespace = nonEmpty('--namespace', values.namespace);
  return flags;
}

function approverFlags(values: { nats?: string; namespace?: string; timeout?: string; reason?: string; as?: string; key?: string }): ApproverFlags {
  const flags: ApproverFlags = nodesFlags(values);
  if (values.as !== undefined) flags.as = personName('--as', values.as);
  if (values.key !== undefined) flags.key = nonEmpty('--key', values.key);
  if (values.reason !== undefined) flags.reason = nonEmpty('--reason', values.reason);
  return flags;
}

/** A person's name as the policy's `people` has it: no whitespace, control characters or path separators. */
export function personName(flag: string, value: string): string {
  if (value === '' || /[\s\p{Cc}/\\]/u.test(value)) throw new UsageError(`${flag} must be a person's name from the policy's people (no spaces, slashes or control characters), got ${JSON.stringify(value)}`);
  return value;
}

function nodesFlags(values: { nats?: string; namespace?: string; timeout?: string }): NodesFlags {
  const flags: NodesFlags = {};
  if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
  if (values.namespace !== undefined) flags.namespace = nonEmpty('--namespace', values.namespace);
  if (values.timeout !== undefined) {
    // Up to a minute: longer is a typo, not a wait anyone means.
    if (!/^[1-9]\d{0,4}$/.test(values.timeout) || Number(values.timeout) > 60_000) {
      throw new UsageError(`--timeout must be a whole number of ms from 1 to 60000, got ${JSON.stringify(values.timeout)}`);
    }
    flags.timeoutMs = Number(values.timeout);
  }
  return flags;
}

/** A log file, a trace stream (on --nats), or the tracer on a NATS: one of them. */
function traceSource(values: { nats?: string; namespace?: string; timeout?: string; file?: string; stream?: string }): TraceSourceFlags {
  const flags: TraceSourceFlags = nodesFlags(values);
  if (values.file !== undefined) {
    if (values.nats !== undefined || values.namespace !== undefined || values.timeout !== undefined || values.stream !== undefined) {
      throw new UsageError('--file reads a log: --stream reads a stream, --nats, --namespace and --timeout ask the tracer; give one');
    }
    flags.file = nonEmpty('--file', values.file);
  }
  if (values.stream !== undefined) {
    if (values.namespace !== undefined || values.timeout !== undefined) throw new UsageError('--stream reads a trace stream (on --nats): --namespace and --timeout ask the tracer instead; give one or the other');
    flags.stream = nonEmpty('--stream', values.stream);
  }
  return flags;
}

function onePositional(positionals: string[], what: string, command: string): string {
  if (positionals.length === 0 || positionals[0] === '') throw new UsageError(`${command} needs ${what}`);
  if (positionals.length > 1) throw new UsageError(`${command} takes one argument, got ${positionals.length}: ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  return positionals[0]!;
}

function parse<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    // parseArgs errors carry an ERR_PARSE_ARGS_* code and a readable message.
    throw new UsageError((err as Error).message);
  }
}

function nonEmpty(flag: string, value: string): string {
  if (value === '') throw new UsageError(`${flag} needs a value`);
  return value;
}
