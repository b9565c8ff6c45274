#!/usr/bin/env node
// The `aos` command: dispatches a verb (start, tree, demo, help) and turns every failure into one
// line on stderr and an exit code: 0 done, 1 runtime error (`aos: <CODE>: <message>`),
// 2 wrong usage or an invalid config file.

import { parseCommand, UsageError } from './args.js';

const USAGE = `usage: aos <command> [flags]

commands:
  start   run a node: aos start [--nats URL] [--config FILE] [--namespace NS] [--node-id ID] [--threads N] [--log-level LEVEL]
  tree    show the supervision tree of every node: aos tree [--nats URL] [--namespace NS] [--timeout MS] [--json]
  demo    run a support-desk demo on an embedded NATS: agents hand tickets to each other, then exit
  help    show this text

Without --nats, start runs an embedded nats-server (found on PATH, in /usr/sbin, or at NATS_SERVER_BIN).
The config file is JSON: {"nats"?, "namespace"?, "nodeId"?, "threads"?, "actors": [{"module", "type", "key", "tasks"?}]};
module paths are relative to the config file, and flags override the file.
tree asks every node on the NATS (without --nats: nats://127.0.0.1:4222; a node started without
--nats runs its own server, so pass the URL its ready line printed) in the namespace (default aos),
and prints what answers within --timeout ms (default 500); --json prints the replies as a JSON array.
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
      case 'demo':
        return await (await import('./demo.js')).runDemo();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(err.showUsage ? `aos: ${err.message}\n\n${USAGE}` : `aos: ${err.message} (see \`aos help\`)\n`);
      return 2;
    }
    const { ConfigFileError } = await import('./node-config.js');
    if (err instanceof ConfigFileError) {
      process.stderr.write(`aos: ${err.message}\n`);
      return 2;
    }
    const { describeError } = await import('./output.js');
    process.stderr.write(`aos: ${describeError(err)}\n`);
    if (process.env['AOS_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// Exit explicitly: a node leaves nothing behind that should keep the process alive, and an
// explicit exit makes sure a stray handle never turns `aos demo` into a hang.
process.exit(await main(process.argv.slice(2)));
