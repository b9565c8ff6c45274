// The files of a trace log kept in a local file (file-log.ts): one vectored append, reads of the
// text and of ranges of it, and its head sidecar. Every failure is ERR_TRACE_LOG naming the file.

import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';
import { aosError } from '../errors/aos-error.js';
import { parseHead, short, type HeadMark } from './hash-chain.js';

/** The sidecar that holds the last entry's `{seq, hash}`. */
export function headPathOf(logPath: string): string {
  return `${logPath}.head`;
}

/** Appends the parts in one vectored write (the batch is not copied into a line first); the bytes written. */
export function appendParts(path: string, parts: Uint8Array[]): number {
  const fd = openSync(path, 'a');
  try {
    let total = 0;
    for (const p of parts) total += p.length;
    let written = writevSync(fd, parts);
    // A regular file takes it whole; a short write (a full disk) goes on from where it stopped.
    while (written < total) {
      let skip = written;
      const rest: Uint8Array[] = [];
      for (const p of parts) {
        if (skip >= p.length) skip -= p.length;
        else {
          rest.push(skip > 0 ? p.subarray(skip) : p);
          skip = 0;
        }
      }
      const n = writevSync(fd, rest);
      if (n === 0) throw new Error('the file takes no more bytes');
      written += n;
    }
    return total;
  } finally {
    closeSync(fd);
  }
}

/** The file's text from byte `start` to byte `end`. */
export function readFrom(path: string, start: number, end: number): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(end, fstatSync(fd).size) - start);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      return buf.toString('utf8', 0, got);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot read the trace log ${path}`, { file: path }, err);
  }
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot read the trace log ${path}`, { file: path }, err);
  }
}

/** Whether the log file exists; its directory is made when it does not. */
export function logExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw aosError('ERR_TRACE_LOG', `cannot read the trace log ${path}`, { file: path }, err);
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (mkdirErr) {
    throw aosError('ERR_TRACE_LOG', `cannot create the directory of ${path}`, { file: path }, mkdirErr);
  }
  return false;
}

export function readHead(path: string): HeadMark | null | 'malformed' {
  let text: string;
  try {
    text = readFileSync(headPathOf(path), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw aosError('ERR_TRACE_LOG', `cannot read the head file ${headPathOf(path)}`, { file: path }, err);
  }
  return parseHead(text) ?? 'malformed';
}

/** `head 3fa2c1d0e9b8 (seq 42)`: a head for people. */
export function describeHead(head: HeadMark): string {
  return `head ${short(head.hash)} (seq ${head.seq})`;
}
