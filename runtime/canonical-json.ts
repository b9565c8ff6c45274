// Canonical JSON: object keys sorted recursively (by UTF-16 code unit), no whitespace, values
// as JSON.stringify writes them. Equal values give equal text on every node, so digests of it
// (policy versions, the trace log's hash chain) agree; parsing the text and canonicalising again
// gives the same text back.

/**
 * The canonical JSON text of a value. Follows JSON.stringify's rules (toJSON, non-finite numbers
 * as null, undefined and functions left out of objects and written as null in arrays; a BigInt
 * throws) so the text always parses back to the value a JSON round trip would give.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '') ?? 'null';
}

function write(input: unknown, key: string): string | undefined {
  let value = input;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (Array.isArray(value)) return `[${value.map((v, i) => write(v, String(i)) ?? 'null').join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const k of Object.keys(value).sort(byCodeUnit)) {
      const v = write((value as Record<string, unknown>)[k], k);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
