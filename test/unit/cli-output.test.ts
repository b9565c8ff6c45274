// The CLI's progress on long reads (`aos trace verify` of a large log): a line at most once a
// second, none in the first, in MB or messages. The clock is injected.
// The CLI is not part of the package: imported from its source.
import { describe, expect, test } from 'vitest';
import { readProgress } from '../../cli/output.js';

describe('cli output', () => {
  test('cli output - read progress: nothing in the first second, then at most a line a second', () => {
    let t = 1_000;
    const lines: string[] = [];
    const report = readProgress('verifying trace.log', 'MB', (l) => lines.push(l), () => t);
    report(10e6, 1_200e6);
    t += 999;
    report(400e6, 1_200e6);
    expect(lines).toEqual([]);
    t += 1;
    report(512e6, 1_200e6);
    t += 500;
    report(700e6, 1_200e6);
    t += 500;
    report(1_100e6, 1_200e6);
    expect(lines).toEqual(['verifying trace.log: 512 of 1,200 MB…', 'verifying trace.log: 1,100 of 1,200 MB…']);
    const messages: string[] = [];
    const stream = readProgress('verifying the stream T', 'messages', (l) => messages.push(l), () => (t += 1_000));
    stream(2_500, 10_000);
    expect(messages).toEqual(['verifying the stream T: 2,500 of 10,000 messages…']);
  });
});
