// A log file's lines, read in chunks: a trace log can be larger than the longest string there
// can be (about 512 MiB), and far larger than a worker should hold. Forward for verifying and
// for the queries that read everything; backward for `tail`, which wants the last lines only.
// Lines are split on the byte 0x0A (never part of a longer UTF-8 sequence).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes read at a time. */
export const LINE_CHUNK_BYTES = 8 * 1024 * 1024;

const NEWLINE = 10;

/**
 * Calls `fn` with each line in order: its text, whether a newline ended it (only the last line
 * may lack one: a partial write) and its bytes with the newline. `fn` returning false stops.
 */
export function forEachLine(path: string, fn: (line: string, terminated: boolean, bytes: number) => boolean | void, chunkBytes = LINE_CHUNK_BYTES): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    /** The start of a line that the chunks read so far have not ended. */
    let carry: Buffer[] = [];
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, chunkBytes, pos);
      if (n === 0) break;
      pos += n;
      const data = buf.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        let line: Buffer | string;
        if (carry.length > 0) {
          carry.push(data.subarray(start, nl));
          line = Buffer.concat(carry);
          carry = [];
        } else line = data.toString('utf8', start, nl);
        const bytes = typeof line === 'string' ? nl - start + 1 : line.length + 1;
        start = nl + 1;
        if (fn(typeof line === 'string' ? line : line.toString('utf8'), true, bytes) === false) return;
      }
      // A copy: the buffer is read into again.
      if (start < n) carry.push(Buffer.from(data.subarray(start)));
    }
    if (carry.length > 0) {
      const rest = Buffer.concat(carry);
      fn(rest.toString('utf8'), false, rest.length);
    }
  } finally {
    closeSync(fd);
  }
}

/** Calls `fn` with each line, last to first (a final empty line, after the last newline, is not one); `fn` returning false stops. */
export function forEachLineBackward(path: string, fn: (line: string) => boolean | void, chunkBytes = LINE_CHUNK_BYTES): void {
  const fd = openSync(path, 'r');
  try {
    let pos = fstatSync(fd).size;
    const any = pos > 0;
    /** The bytes from the earliest newline seen to the end of what is not yet handed out. */
    let pending = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const len = Math.min(chunkBytes, pos);
      pos -= len;
      const chunk = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, chunk, got, len - got, pos + got);
        if (n === 0) throw new Error(`${path} shrank while it was read`);
        got += n;
      }
      const data = pending.length === 0 ? chunk : Buffer.concat([chunk, pending]);
      let end = data.length;
      if (first) {
        first = false;
        if (end > 0 && data[end - 1] === NEWLINE) end -= 1;
      }
      // Lines that start after a newline of this chunk are whole; what is before the first one may go on in the chunk before.
      for (let nl = data.lastIndexOf(NEWLINE, end - 1); nl !== -1 && end > 0; nl = end > 0 ? data.lastIndexOf(NEWLINE, end - 1) : -1) {
        if (fn(data.toString('utf8', nl + 1, end)) === false) return;
        end = nl;
      }
      pending = Buffer.from(data.subarray(0, end));
    }
    // The first line (an empty one too, when the file starts with its newline).
    if (any) fn(pending.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}
