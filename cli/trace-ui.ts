// The trace page served by `aos start --ui`: `/` lists the latest chains of work in a trace log
// (newest first), `/chain/<correlationId>` draws one with trace-html.ts. node:http on 127.0.0.1
// only, the log read afresh on each request (the list from its last 16 MB, a chain from the
// entries that name it); a bad request gets a 4xx, never a crashed node.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TraceRecord } from '../runtime/trace/records.js';
import { chainOfFile, eachLineBackward } from '../runtime/trace/log-query.js';
import { recordsOfEntry } from '../runtime/trace/trace-query.js';
import { esc, renderTraceHtml } from './trace-html.js';

export interface TraceUiOptions {
  /** The hash-chained trace log the tracer appends to. */
  file: string;
  /** 0 (the default) takes a free port. */
  port?: number;
}

export interface TraceUi {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** Chains listed on `/`. */
export const MAX_CHAINS = 50;
/** How much of the log's end the list reads (a log can be far larger than a page should read). */
const LATEST_BYTES = 16 * 1024 * 1024;

/** A chain's id is a W3C trace id (runtime/ids.ts): anything else is a bad request. */
const CHAIN_ID = /^[0-9a-f]{32}$/;
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** One row of `/`: a chain of work at a glance. */
export interface ChainSummary {
  correlationId: string;
  /** Its first record's time. */
  start: number;
  /** Its first message, as first seen. */
  first: { from: string; to: string; subject: string } | null;
  /** Distinct messages. */
  messages: number;
  failed: boolean;
  denied: boolean;
}

/** The latest `limit` chains of some records, newest first (by their first record). */
export function summarizeChains(records: readonly TraceRecord[], limit = MAX_CHAINS): ChainSummary[] {
  const chains = new Map<string, ChainSummary & { ids: Set<string>; firstAt: number }>();
  for (const r of records) {
    const correlationId = (r as { correlationId?: unknown }).correlationId;
    if (typeof correlationId !== 'string') continue;
    let c = chains.get(correlationId);
    if (c === undefined) chains.set(correlationId, (c = { correlationId, start: r.at, first: null, messages: 0, failed: false, denied: false, ids: new Set(), firstAt: Infinity }));
    c.start = Math.min(c.start, r.at);
    if (r.type === 'decision') c.denied ||= !r.allow;
    if (r.type !== 'envelope') continue;
    c.ids.add(r.id);
    if (r.at < c.firstAt) {
      c.firstAt = r.at;
      c.first = { from: r.from, to: r.to, subject: r.subject };
    }
    const bad = r.outcome !== undefined && r.outcome !== 'ok';
    if (r.event === 'failed' || r.event === 'dead-lettered' || (bad && (r.event === 'turn.finished' || r.event === 'replied'))) c.failed = true;
  }
  return [...chains.values()]
    .sort((a, b) => b.start - a.start)
    .slice(0, limit)
    .map(({ ids, firstAt: _, ...c }) => ({ ...c, messages: ids.size }));
}

export async function serveTraceUi(options: TraceUiOptions): Promise<TraceUi> {
  const server = createServer((req, res) => {
    try {
      handle(options.file, req, res);
    } catch (err) {
      // A log that cannot be read is the server's problem, not the node's: say so and go on.
      send(res, 500, 'text/plain', `cannot read the trace log: ${(err as Error).message}\n`);
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(file: string, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'only GET\n');
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/') return send(res, 200, 'text/html', indexPage(file, summarizeChains(latestRecords(file))));
  const m = /^\/chain\/([^/]*)$/.exec(path);
  if (m === null) return send(res, 404, 'text/plain', 'not found\n');
  const id = m[1]!;
  if (!CHAIN_ID.test(id)) return send(res, 400, 'text/plain', 'a chain id is 32 lowercase hex digits\n');
  const records = existing(() => chainOfFile(file, id), []);
  if (records.length === 0) return send(res, 404, 'text/plain', `no record of chain ${id} in the log\n`);
  // The page of `aos trace html`, with a way back to the list.
  const page = renderTraceHtml(records, { correlationId: id }).replace('<body>\n', '<body>\n<p><a id="back" href="/">&larr; all chains</a></p>\n');
  send(res, 200, 'text/html', page);
}

/** The records of the log's last LATEST_BYTES (whole entries): where the latest chains are. */
function latestRecords(file: string): TraceRecord[] {
  return existing(
    () => {
      const lines: string[] = [];
      let bytes = 0;
      eachLineBackward(file, (line) => {
        lines.push(line);
        bytes += line.length;
        return bytes < LATEST_BYTES;
      });
      const out: TraceRecord[] = [];
      for (let i = lines.length - 1; i >= 0; i--) recordsOfEntry(lines[i]!, out);
      return out;
    },
    [],
  );
}

/** What `read` finds in the log, or `none` while the tracer has not created it yet. */
function existing<T>(read: () => T, none: T): T {
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return none;
    throw err;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function indexPage(file: string, chains: readonly ChainSummary[]): string {
  const rows = chains.map((c) => {
    const trouble = [c.failed ? 'failed' : '', c.denied ? 'denied' : ''].filter((t) => t !== '').join(', ');
    const first = c.first === null ? '—' : `${esc(c.first.from)} &rarr; ${esc(c.first.to)}${c.first.subject === c.first.to ? '' : ` <span class="subject">${esc(c.first.subject)}</span>`}`;
    return `<tr class="${trouble === '' ? 'chain' : 'chain bad'}" data-chain="${esc(c.correlationId)}"><td class="time"><a href="/chain/${esc(c.correlationId)}">${esc(when(c.start))}</a></td><td><code>${esc(c.correlationId.slice(0, 8))}</code></td><td>${first}</td><td class="num">${c.messages}</td><td class="status">${trouble === '' ? 'ok' : esc(trouble)}</td></tr>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chains of work</title>
<style>
body{font-family:"DejaVu Sans",system-ui,sans-serif;color:#1f2933;margin:24px;background:#fff}
h1{font-size:20px;margin:0 0 4px}.note{color:#52606d;margin:0 0 14px}
table{border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:5px 10px;border-bottom:1px solid #e4e7eb}
td.num{text-align:right}.subject{color:#7b8794}tr.bad td.status{color:#d32f2f;font-weight:bold}
</style>
</head>
<body>
<h1>Chains of work</h1>
<p class="note">From <code>${esc(file)}</code> as this page loaded: the latest ${MAX_CHAINS} at most, newest first. Click one to draw it.</p>
${chains.length === 0 ? '<p id="empty">No chains of work in the log yet.</p>' : `<table id="chains"><thead><tr><th>started (UTC)</th><th>chain</th><th>first message</th><th>messages</th><th>status</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`}
</body>
</html>
`;
}

/** `2024-05-01 10:42:01.120` (UTC, said in the column's head). */
function when(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace('Z', '');
}
