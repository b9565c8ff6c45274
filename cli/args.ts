// Command-line parsing for `aos`: a verb, then that verb's flags (node:util parseArgs,
// strict: an unknown flag or a missing value is a usage error, exit code 2).

import { parseArgs } from 'node:util';

/** Wrong usage of the command line: exit code 2, with the usage text when the verb itself is wrong. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface StartFlags {
  nats?: string;
  config?: string;
  namespace?: string;
  nodeId?: string;
  threads?: number;
  logLevel?: LogLevel;
}

export interface TreeFlags {
  nats?: string;
  namespace?: string;
  /** How long to collect replies, in ms. */
  timeoutMs?: number;
  json?: boolean;
}

export type Command = { verb: 'help' } | { verb: 'start'; flags: StartFlags } | { verb: 'tree'; flags: TreeFlags } | { verb: 'demo' };

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

export function parseCommand(argv: readonly string[]): Command {
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
  const options = {
    ...HELP,
    nats: { type: 'string' },
    namespace: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  } as const;
  const { values } = parse(() => parseArgs({ args, options, strict: true }));
  if (values.help === true) return { verb: 'help' };
  const flags: TreeFlags = {};
  if (values.nats !== undefined) flags.nats = nonEmpty('--nats', values.nats);
  if (values.namespace !== undefined) flags.namespace = nonEmpty('--namespace', values.namespace);
  if (values.timeout !== undefined) {
    // Up to a minute: longer is a typo, not a wait anyone means.
    if (!/^[1-9]\d{0,4}$/.test(values.timeout) || Number(values.timeout) > 60_000) {
      throw new UsageError(`--timeout must be a whole number of ms from 1 to 60000, got ${JSON.stringify(values.timeout)}`);
    }
    flags.timeoutMs = Number(values.timeout);
  }
  if (values.json === true) flags.json = true;
  return { verb: 'tree', flags };
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
