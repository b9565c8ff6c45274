// Helpers for tests that run real processes: the package root, the built `aos` CLI run to
// completion or watched line by line, and a node started in a child process that prints
// `ready <id>` when it serves. Every child still running when its test ends is killed.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { deferred, withDeadline } from './deferred.js';
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

export interface AosExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface AosProcess {
  child: ChildProcess;
  exit: Promise<AosExit>;
  /** The first whole line of `stream` that `match` accepts; rejects if aos exits first or after `ms`. */
  line(stream: 'stdout' | 'stderr', match: (line: string) => boolean, ms: number, what: string): Promise<string>;
}

/** Starts `aos <args>` in the package root, collecting its output; killed if still running when the test ends. */
export function startAos(args: string[]): AosProcess {
  const p = spawnAos(args);
  onTestFinished(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  return p;
}

/** Runs `aos <args>` to completion (also from beforeAll, outside any test). */
export function runAos(args: string[]): Promise<AosExit> {
  return spawnAos(args).exit;
}

function spawnAos(args: string[]): AosProcess {
  const child = spawn(process.execPath, [AOS_BIN, ...args], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; match: (line: string) => boolean; found: (line: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const hit = out[w.stream].split('\n').slice(0, -1).find(w.match);
      if (hit === undefined) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.found(hit);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => ((out.stdout += s), check()));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => ((out.stderr += s), check()));
  let exited = false;
  const exit = new Promise<AosExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      exited = true;
      resolve({ code, stdout: out.stdout, stderr: out.stderr });
    });
  });
  return {
    child,
    exit,
    line: (stream, match, ms, what) => {
      const d = deferred<string>();
      waiters.push({ stream, match, found: d.resolve });
      check();
      void exit.then((e) => {
        if (exited) d.reject(new Error(`aos exited (code ${e.code}) before ${what}: ${e.stderr}`));
      });
      return d.wait(ms, what);
    },
  };
}

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
