// Every crash and restart, and a child that fails to start, is one structured log record, as
// OTP's crash reports are: supervisor, context, reason (code, message, cause) and offender (child
// id and spec).

import { describe, expect, test } from 'vitest';
import { defineSupervisor } from 'autonomy-os';
import { recordingLogger } from '../helpers/logs.js';
import { fixture, startSystem } from '../helpers/system.js';

interface Record {
  supervisor?: string;
  context?: string;
  reason?: { code: string; message: string; cause?: string };
  offender?: { id: string; module: string; restart: string; shutdownMs: number };
}

describe('supervision log', () => {
  test('crash report - a crash and its restart are one structured record each', async () => {
    const { records, logger } = recordingLogger<Record>('info');
    const node = await startSystem({ logger });
    await node.supervise(defineSupervisor({ name: 'crashy', children: [{ module: fixture('sup-counter.ts'), type: 'cr', key: 'a', maxAttempts: 1 }] }));
    await expect(node.ref('cr/a').ask({ op: 'fail', how: 'throw' })).rejects.toMatchObject({ code: 'ERR_HANDLER_FAILED' });
    await node.whenIdle();

    const crashes = records.filter((r) => r.supervisor === 'crashy' && r.context === 'child_terminated');
    const restarts = records.filter((r) => r.supervisor === 'crashy' && r.context === 'restart');
    expect(crashes).toHaveLength(1);
    expect(restarts).toHaveLength(1);
    expect(crashes[0]).toMatchObject({
      reason: { code: 'ERR_HANDLER_FAILED', message: 'asked to throw' },
      offender: { id: 'cr/a', restart: 'permanent', shutdownMs: 5_000 },
    });
    expect(crashes[0]!.reason!.cause).toContain('asked to throw');
    expect(crashes[0]!.offender!.module).toContain('sup-counter.ts');
    expect(restarts[0]).toMatchObject({ offender: { id: 'cr/a' } });
  });

  test('crash report - a child that fails to start: one start_error record with the code it failed with', async () => {
    const { records, logger } = recordingLogger<Record>('info');
    const node = await startSystem({ logger });
    const spec = defineSupervisor({ name: 'nostart', children: [{ module: fixture('init-throws.ts'), type: 'bad', key: 'a' }] });
    await expect(node.supervise(spec)).rejects.toMatchObject({ code: 'ERR_HANDLER_FAILED' });
    expect(records.filter((r) => r.supervisor === 'nostart' && r.context === 'start_error')).toEqual([
      expect.objectContaining({ reason: { code: 'ERR_HANDLER_FAILED', message: expect.stringContaining('init failed on purpose') } }),
    ]);
  });
});
