// `aos start`'s trace flags: --trace-rotate-mb goes with a --trace LOG, as a positive number.
// The CLI is not part of the package: imported from its source.
import { describe, expect, test } from 'vitest';
import { parseCommand, UsageError } from '../../cli/args.js';

describe('cli start args', () => {
  test('cli start args - --trace-rotate-mb N with --trace LOG; without one, or not a positive number, a usage error', () => {
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64'])).toEqual({ verb: 'start', flags: { trace: 't.log', traceRotateMb: 64 } });
    expect(() => parseCommand(['start', '--trace-rotate-mb', '64'])).toThrow(/--trace-rotate-mb starts new segments of a --trace LOG/);
    for (const bad of ['0', '-1', '1.5', 'lots']) expect(() => parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', bad])).toThrow(UsageError);
  });
});
