// `aos start`'s trace flags: --trace-rotate-mb goes with a --trace LOG, as a positive number;
// --trace-keep-segments with --trace-rotate-mb, as a whole number; --trace-keep-days with
// --trace-rotate-mb, as a positive whole number; --trace-anchor-s with --trace. `aos trace
// verify --complete` and `--anchors`.
// The CLI is not part of the package: imported from its source.
import { describe, expect, test } from 'vitest';
import { parseCommand, UsageError } from '../../cli/args.js';

describe('cli start args', () => {
  test('cli start args - --trace-rotate-mb N with --trace LOG; without one, or not a positive number, a usage error', () => {
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64'])).toEqual({ verb: 'start', flags: { trace: 't.log', traceRotateMb: 64 } });
    expect(() => parseCommand(['start', '--trace-rotate-mb', '64'])).toThrow(/--trace-rotate-mb starts new segments of a --trace LOG/);
    for (const bad of ['0', '-1', '1.5', 'lots']) expect(() => parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', bad])).toThrow(UsageError);
  });

  test('cli start args - --trace-keep-segments N with --trace-rotate-mb; without it, or not a whole number, a usage error', () => {
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-segments', '10'])).toEqual({ verb: 'start', flags: { trace: 't.log', traceRotateMb: 64, traceKeepSegments: 10 } });
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-segments', '0'])).toMatchObject({ flags: { traceKeepSegments: 0 } });
    expect(() => parseCommand(['start', '--trace', 't.log', '--trace-keep-segments', '10'])).toThrow(/--trace-keep-segments keeps the newest segments .* give both/);
    for (const bad of ['-1', '1.5', 'all', '']) expect(() => parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-segments', bad])).toThrow(UsageError);
  });

  test('cli start args - --trace-keep-days N with --trace-rotate-mb; without it, or not a positive whole number, a usage error', () => {
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-days', '30'])).toEqual({ verb: 'start', flags: { trace: 't.log', traceRotateMb: 64, traceKeepDays: 30 } });
    expect(parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-segments', '10', '--trace-keep-days', '7'])).toMatchObject({ flags: { traceKeepSegments: 10, traceKeepDays: 7 } });
    expect(() => parseCommand(['start', '--trace', 't.log', '--trace-keep-days', '30'])).toThrow(/--trace-keep-days deletes the old segments .* give both/);
    for (const bad of ['0', '-1', '1.5', 'week', '']) expect(() => parseCommand(['start', '--trace', 't.log', '--trace-rotate-mb', '64', '--trace-keep-days', bad])).toThrow(UsageError);
  });

  test('cli start args - trace verify --complete, with a FILE or a --stream', () => {
    expect(parseCommand(['trace', 'verify', 't.log', '--complete'])).toEqual({ verb: 'trace verify', flags: { file: 't.log', complete: true } });
    expect(parseCommand(['trace', 'verify', '--stream', 'TRACE', '--complete', '--json'])).toEqual({ verb: 'trace verify', flags: { stream: 'TRACE', complete: true, json: true } });
    expect(parseCommand(['trace', 'verify', 't.log'])).toEqual({ verb: 'trace verify', flags: { file: 't.log' } });
  });

  test('cli start args - trace verify --anchors [--nats URL] [--namespace NS] with a FILE; not with a stream, and --namespace only with it', () => {
    expect(parseCommand(['trace', 'verify', 't.log', '--anchors', '--nats', 'nats://127.0.0.1:4333', '--namespace', 'prod'])).toEqual({
      verb: 'trace verify',
      flags: { file: 't.log', anchors: true, nats: 'nats://127.0.0.1:4333', namespace: 'prod' },
    });
    expect(() => parseCommand(['trace', 'verify', '--stream', 'TRACE', '--anchors'])).toThrow(/--anchors checks a log FILE/);
    expect(() => parseCommand(['trace', 'verify', 't.log', '--namespace', 'prod'])).toThrow(/--namespace names the anchors stream/);
    expect(() => parseCommand(['trace', 'verify', 't.log', '--nats', 'nats://127.0.0.1:4333'])).toThrow(/--nats reaches a trace stream or the anchors/);
  });

  test('cli start args - --trace-anchor-s N with a --trace LOG, as a positive whole number', () => {
    expect(parseCommand(['start', '--trace', 't.log', '--trace-anchor-s', '10'])).toEqual({ verb: 'start', flags: { trace: 't.log', traceAnchorS: 10 } });
    expect(() => parseCommand(['start', '--trace-anchor-s', '10'])).toThrow(/--trace-anchor-s anchors the head of a --trace LOG/);
    for (const bad of ['0', '-1', '0.5', 'often']) expect(() => parseCommand(['start', '--trace', 't.log', '--trace-anchor-s', bad])).toThrow(UsageError);
  });
});
