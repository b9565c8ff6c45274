// Helpers for tests that run real processes: the package root (for the built CLI) and a
// node started in a child process that prints `ready <id>` when it serves.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { withDeadline } from './deferred.js';
import { fixture } from './system.js';

/** The package root: the nearest directory above this file whose package.json is autonomy-os. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, 'package.json')) && JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'autonomy-os')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('autonomy-os package root not found');
    dir = up;
  }
  return dir;
}

/** The built `aos` CLI (npm test builds before it runs the suite). */
export const AOS_BIN = join(packageRoot(), 'dist', 'cli', 'aos.js');

/**
 * Runs a fixture script in a child `node` process and waits (with a deadline) for its line
 * `ready <id>`; the process is killed when the test ends. Resolves to the child, its exit
 * promise and the id it printed.
 */
export async function startNodeProcess(script: string, args: string[], label: string): Promise<{ child: ChildProcess; exited: Promise<unknown[]>; id: string }> {
  const child = spawn(process.execPath, [fileURLToPath(fixture(script)), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) resolve(line.slice('ready '.length));
    });
    child.once('exit', (code) => reject(new Error(`${label} exited early with code ${code}`)));
  });
  const id = await withDeadline(ready, 15_000, `ready line from ${label}`);
  return { child, exited, id };
}
