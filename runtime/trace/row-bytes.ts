// The bytes of a batch's rows, written as they are recorded: JSON text put straight into a
// growing buffer, number by number and id by id, so that recording a row makes no string and
// leaves nothing for the garbage collector (the trace's largest cost on the kernel thread was
// the strings its rows were built from).

const encoder = new TextEncoder();

/** Node's own Buffer#utf8Write (what Buffer#write calls after checking its arguments), where there is one. */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: (s: string, offset: number) => number }).utf8Write;
const utf8Write: (buf: Buffer, text: string, offset: number) => number =
  nativeUtf8Write === undefined ? (buf, text, offset) => buf.write(text, offset) : (buf, text, offset) => nativeUtf8Write.call(buf, text, offset);

/** ASCII text as bytes, for the literals rows are made of. */
export function ascii(text: string): Uint8Array {
  return encoder.encode(text);
}

const ZERO = 48;
const QUOTE = 34;
/** Room a row is sure to fit in but for its free text (ids a client forged), which `text` makes room for itself. */
const ROW_ROOM = 512;

export class RowBytes {
  buf = Buffer.allocUnsafe(64 * 1024);
  end = 0;

  /** Makes room for a row (call once before writing one). */
  room(): void {
    if (this.end + ROW_ROOM > this.buf.length) this.grow(ROW_ROOM);
  }

  private grow(need: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.end + need));
    this.buf.copy(bigger, 0, 0, this.end);
    this.buf = bigger;
  }

  lit(bytes: Uint8Array): void {
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  byte(c: number): void {
    this.buf[this.end++] = c;
  }

  /** A string known to be short ASCII (a hex id, a row's indexes), as is. */
  raw(s: string): void {
    const buf = this.buf;
    let e = this.end;
    for (let i = 0; i < s.length; i++) buf[e++] = s.charCodeAt(i);
    this.end = e;
  }

  /** A hex id, quoted. */
  hex(s: string): void {
    this.buf[this.end++] = QUOTE;
    this.raw(s);
    this.buf[this.end++] = QUOTE;
  }

  /** Any text as it stands (JSON already): UTF-8, up to 3 bytes a character; the row's room is kept after it. */
  text(s: string): void {
    const need = s.length * 3 + ROW_ROOM;
    if (this.end + need > this.buf.length) this.grow(need);
    this.end += utf8Write(this.buf, s, this.end);
  }

  /** A number as JSON writes it: integers digit by digit, anything else as its text. */
  num(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.raw(String(n));
      return;
    }
    const buf = this.buf;
    if (n < 0) {
      buf[this.end++] = 45;
      n = -n;
    }
    if (n < 10) {
      buf[this.end++] = ZERO + n;
      return;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    let e = this.end + digits;
    this.end = e;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--e] = ZERO + (n - q * 10);
      n = q;
    }
    buf[--e] = ZERO + n;
  }

  reset(): void {
    this.end = 0;
  }
}
