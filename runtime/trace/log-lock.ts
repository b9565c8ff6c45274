// One process writes a file log: `<log>.lock` names it (pid, host, and on Linux the process's
// start time, so a pid used again by another process is not taken for the writer). Two nodes'
// tracers appending to one file would fork its chain (each chains after the entry it last saw),
// so a second process is refused (ERR_TRACE_LOG) while the first is alive; a lock whose process
// is gone is taken over. Within the process, the tracer's writers (one per worker thread) share
// it. The lock is made whole aside and linked into place, so it is never seen half written.
// Nothing removes it when its process ends: the next writer finds that process gone.

import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { aosError } from '../errors/aos-error.js';

export function lockPathOf(logPath: string): string {
  return `${logPath}.lock`;
}

/** Who holds a log: what `<log>.lock` says. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), or null where there is none. */
  started: string | null;
  /** When the lock was taken (ISO 8601). */
  since: string;
}

/** A process's start time, from /proc (field 22 of its stat); null where that cannot be read. */
function startTime(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(lock, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string') return undefined;
    return { pid: o.pid, host: o.host, started: typeof o.started === 'string' ? o.started : null, since: typeof o.since === 'string' ? o.since : '?' };
  } catch {
    return undefined;
  }
}

/** The process in the lock is still running: on another host, it cannot be told, so it is taken to be. */
function alive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid is in use: by the writer, unless it started at another time (the pid was used again).
  const started = startTime(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

/**
 * Takes the log's lock for this process, or finds it already held by this process; ERR_TRACE_LOG
 * when another process that is alive holds it. `now` stamps the lock (`since`).
 */
export function lockLog(path: string, now: () => number = Date.now): void {
  const lock = lockPathOf(path);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: startTime('self'), since: new Date(now()).toISOString() };
  const aside = `${lock}.${process.pid}.${Math.floor(Math.random() * 1e9)}`;
  try {
    writeFileSync(aside, `${JSON.stringify(me)}\n`);
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot lock the trace log ${path}: cannot write ${aside}`, { file: path, lock }, err);
  }
  try {
    // Twice at most: a lock left by a process that is gone is removed, then taken.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(aside, lock);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw aosError('ERR_TRACE_LOG', `cannot lock the trace log ${path}`, { file: path, lock }, err);
      }
      const owner = readOwner(lock);
      if (owner !== undefined && owner.pid === me.pid && owner.host === me.host && owner.started === me.started) return;
      if (owner !== undefined && alive(owner)) {
        throw aosError(
          'ERR_TRACE_LOG',
          `the trace log ${path} is written by another process (pid ${owner.pid} on ${owner.host}, since ${owner.since}); one process writes a file log: give this node a file of its own, or trace to a stream, which nodes share. If that process is gone, remove ${lock}`,
          { file: path, lock, owner },
        );
      }
      try {
        unlinkSync(lock);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw aosError('ERR_TRACE_LOG', `cannot remove the stale lock ${lock}`, { file: path, lock }, err);
      }
    }
    throw aosError('ERR_TRACE_LOG', `cannot lock the trace log ${path}: another process took ${lock} meanwhile`, { file: path, lock });
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
  }
}
