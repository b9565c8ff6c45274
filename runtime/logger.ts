// The runtime's structured logger (pino). Passed in, never global: a node builds one from
// its options unless the caller hands it a logger of its own.

import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogTarget = 'stdout' | 'stderr';

export function createLogger(options: { level?: string; nodeId: string; to?: LogTarget }): Logger {
  return pino(
    { level: options.level ?? process.env['AOS_LOG_LEVEL'] ?? 'info', base: { node: options.nodeId } },
    pino.destination({ fd: options.to === 'stderr' ? 2 : 1, sync: true }),
  );
}
