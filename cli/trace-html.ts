// One chain of work as a self-contained HTML page (`aos trace html`): a sequence diagram in inline
// SVG (a lifeline per actor or client, an arrow per message, a box per turn, denials in red,
// failures, retries, dead letters and restarts marked), a legend, and the same story as a table.
// Pure: records in, a string out; inline CSS, no script, no network (a CSP says so).

import type { TraceRecord } from '../runtime/trace/records.js';
import { actorOfSubject, buildSequence, ms, type DenialStep, type Lifeline, type MarkStep, type MessageStep, type Sequence, type Step, type TurnStep } from './trace-sequence.js';

export interface HtmlOptions {
  correlationId: string;
}

const GUTTER = 84; // the time column
const COL = 200; // one lifeline
const EXTRA = 170; // room on the right for labels and arrows to no one
const HEAD_Y = 16;
const HEAD_H = 46;
const ROW = 34;
const TOP = HEAD_Y + HEAD_H + 30;
const CHAR = 6.4; // px per character of the 11px labels, to cut them to fit

const RED = '#d32f2f';

export function renderTraceHtml(records: readonly TraceRecord[], options: HtmlOptions): string {
  const seq = buildSequence(records);
  const denials = seq.steps.filter((s) => s.kind === 'denial').length;
  const messages = seq.steps.filter((s): s is MessageStep => s.kind === 'message');
  const marks = (m: MarkStep['mark']): number => seq.steps.filter((s) => s.kind === 'mark' && s.mark === m).length;
  // What went wrong is named only when it happened: a clean chain reads as one.
  const facts = [
    count(seq.lifelines.length, 'participant'),
    count(messages.filter((m) => !m.reply).length, 'message'),
    ...[
      [messages.filter((m) => m.reply).length, 'reply', 'replies'] as const,
      [denials, 'denial', 'denials'] as const,
      [marks('failed'), 'failure', 'failures'] as const,
      [marks('retried'), 'retry', 'retries'] as const,
      [marks('dead-lettered'), 'dead letter', 'dead letters'] as const,
      [marks('restart'), 'restart', 'restarts'] as const,
    ]
      .filter(([k]) => k > 0)
      .map(([k, one, many]) => count(k, one, many)),
  ];
  const title = `Chain of work ${options.correlationId}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Chain of work <code>${esc(options.correlationId)}</code></h1>
<p class="span">${records.length === 0 ? 'no records' : `${esc(when(seq.start))} to ${esc(when(seq.end))}: <strong>${esc(ms(seq.end - seq.start))}</strong>`}</p>
<p class="facts">${facts.map((f) => `<span class="${/denial|failure|dead/.test(f) ? 'fact bad' : 'fact'}">${esc(f)}</span>`).join(' ')}</p>
</header>
<main>
${legend()}
<div class="diagram">${diagram(seq)}</div>
<h2>Step by step</h2>
${stepTable(seq)}
</main>
<footer>Made by <code>aos trace html</code> from the hash-chained trace log. Times are from the start of the chain. Hover over an arrow or a box for its details.</footer>
</body>
</html>
`;
}

// ---- the diagram ------------------------------------------------------------------------

function diagram(seq: Sequence): string {
  const index = new Map(seq.lifelines.map((l, i) => [l.id, i]));
  const x = (id: string): number => GUTTER + (index.get(id) ?? 0) * COL + COL / 2;
  const y = (row: number): number => TOP + row * ROW;
  const width = GUTTER + seq.lifelines.length * COL + EXTRA;
  const height = TOP + seq.rows * ROW + 24;
  const out: string[] = [];
  for (let r = 0; r < seq.rows; r += 2) out.push(`<rect class="stripe" x="0" y="${y(r) - ROW / 2}" width="${width}" height="${ROW}"/>`);
  // The time column: each row's step, or the end of the turn drawn there.
  const rowTime = new Map<number, number>();
  for (const s of seq.steps) {
    if (!rowTime.has(s.row)) rowTime.set(s.row, s.at);
    if (s.kind === 'turn' && s.endRow !== s.row) rowTime.set(s.endRow, s.at + (s.durationMs ?? 0));
  }
  for (const [r, at] of [...rowTime].sort((a, b) => a[0] - b[0])) out.push(`<text class="time" x="${GUTTER - 10}" y="${y(r) + 4}">+${esc(ms(at - seq.start))}</text>`);
  for (const l of seq.lifelines) out.push(lifeline(l, x(l.id), height));
  const layers: Record<Step['kind'], string[]> = { turn: [], message: [], denial: [], mark: [] };
  for (const s of seq.steps) {
    switch (s.kind) {
      case 'turn':
        layers.turn.push(turn(s, x(s.actor), y));
        break;
      case 'message':
        layers.message.push(message(s, x(s.from), s.to === null ? null : x(s.to), y(s.row)));
        break;
      case 'denial':
        layers.denial.push(denial(s, x(s.actor), s.toLifeline === null ? null : x(s.toLifeline), y(s.row)));
        break;
      case 'mark':
        layers.mark.push(mark(s, x(s.actor), y(s.row)));
        break;
    }
  }
  out.push(...layers.turn, ...layers.message, ...layers.denial, ...layers.mark);
  return `<svg id="sequence" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="sequence diagram of the chain of work">
<defs>
<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#263238"/></marker>
<marker id="arrow-reply" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#546e7a" stroke-width="1.6"/></marker>
</defs>
${out.join('\n')}
</svg>`;
}

function lifeline(l: Lifeline, x: number, height: number): string {
  const what = l.role === 'client' ? 'outside client' : l.role === 'runtime' ? 'the runtime' : l.node === undefined ? 'actor' : `actor on node ${l.node}`;
  return `<g class="lifeline ${l.role}" data-actor="${esc(l.id)}">
<line class="lifeline-line" x1="${x}" y1="${HEAD_Y + HEAD_H}" x2="${x}" y2="${height - 8}"/>
<rect class="lifeline-head" x="${x - COL / 2 + 12}" y="${HEAD_Y}" width="${COL - 24}" height="${HEAD_H}" rx="7"/>
<text class="lifeline-name" x="${x}" y="${HEAD_Y + 20}">${esc(fit(l.id, (COL - 34) / 7.2))}</text>
<text class="lifeline-sub" x="${x}" y="${HEAD_Y + 36}">${esc(fit(what, (COL - 34) / 6))}</text>
<title>${esc(`${l.id}: ${what}`)}</title>
</g>`;
}

function turn(s: TurnStep, x: number, y: (row: number) => number): string {
  const ok = s.outcome === null || s.outcome === 'ok';
  const top = y(s.row) - 9;
  const bottom = y(s.endRow) + 9;
  const took = s.durationMs === null ? 'still running' : ms(s.durationMs);
  const label = ok ? `turn ${took}` : `turn failed after ${took}: ${s.outcome}`;
  return `<g class="turn ${ok ? 'ok' : 'error'}" data-actor="${esc(s.actor)}" data-id="${esc(s.id)}">
<rect x="${x - 7}" y="${top}" width="14" height="${bottom - top}" rx="2"/>
<text class="label start turn-label" x="${x + 13}" y="${y(s.endRow) + 4}">${esc(label)}</text>
<title>${esc(`${s.actor} handled message ${s.id}${s.attempt > 0 ? ` (attempt ${s.attempt + 1})` : ''}: ${ok ? 'ok' : s.outcome} in ${took}`)}</title>
</g>`;
}

function message(s: MessageStep, x1: number, x2: number | null, y: number): string {
  const label = s.reply ? (s.outcome === undefined || s.outcome === 'ok' ? 'reply' : `reply: ${s.outcome}`) : `${s.msgKind}${s.msgKind === 'task' || s.msgKind === 'event' ? ` ${s.subject}` : ''} · ${s.size} B`;
  const classes = ['message', s.reply ? 'reply' : '', s.undelivered ? 'undelivered' : '', s.reply && s.outcome !== undefined && s.outcome !== 'ok' ? 'error' : ''].filter((c) => c !== '').join(' ');
  const tip = s.reply ? `${s.from} replied to ${s.to ?? 'the asker'} (${s.outcome ?? 'ok'}) for message ${s.id}` : `${s.msgKind} ${s.id} from ${s.from} to ${s.to ?? s.subject} on ${s.subject}, ${s.size} bytes${s.undelivered ? ', not received' : ''}`;
  const attrs = `class="${classes}" data-id="${esc(s.id)}" data-from="${esc(s.from)}" data-to="${esc(s.to ?? '')}"`;
  const marker = `marker-end="url(#${s.reply ? 'arrow-reply' : 'arrow'})"`;
  let shape: string;
  let text: string;
  if (x2 === x1) {
    shape = `<path d="M${x1 + 7},${y - 6} h34 v12 h-34" fill="none" ${marker}/>`;
    text = `<text class="label start" x="${x1 + 48}" y="${y + 4}">${esc(fit(label, COL / CHAR))}</text>`;
  } else {
    const end = x2 ?? x1 + 140;
    const dir = end > x1 ? 1 : -1;
    shape = `<line x1="${x1 + 7 * dir}" y1="${y}" x2="${end - (x2 === null ? 0 : 8 * dir)}" y2="${y}" ${marker}/>`;
    if (x2 === null) text = `<text class="label start" x="${end + 6}" y="${y + 4}">${esc(fit(`${label} (no one)`, EXTRA / CHAR))}</text>`;
    else text = `<text class="label" x="${(x1 + end) / 2}" y="${y - 6}">${esc(fit(label, Math.abs(end - x1) / CHAR))}</text>`;
  }
  return `<g ${attrs}>${shape}${text}<title>${esc(tip)}</title></g>`;
}

function denial(s: DenialStep, x1: number, x2: number | null, y: number): string {
  const end = x2 ?? x1 + 130;
  const dir = end > x1 ? 1 : -1;
  const tip = end - 10 * dir;
  const label = `DENIED ${s.action} ${actorOfSubject(s.target) ?? s.target}`;
  const labelX = x2 === null ? end + 12 : (x1 + end) / 2;
  const why = `${s.actor} may not ${s.action} ${s.target}: ${s.reason ?? 'denied'} (rule ${s.rule})`;
  return `<g class="denial" data-actor="${esc(s.actor)}" data-target="${esc(s.target)}">
<line x1="${x1 + 7 * dir}" y1="${y}" x2="${tip}" y2="${y}"/>
<path class="denial-x" d="M${tip - 6},${y - 6} L${tip + 6},${y + 6} M${tip - 6},${y + 6} L${tip + 6},${y - 6}"/>
<text class="label denial-label${x2 === null ? ' start' : ''}" x="${labelX}" y="${x2 === null ? y + 4 : y - 7}">${esc(fit(label, (x2 === null ? EXTRA : Math.abs(end - x1)) / CHAR))}</text>
<title>${esc(why)}</title>
</g>`;
}

/** What a mark says next to its symbol: `failed: ERR_X`, `retry 1`, `dead letter: ERR_X`, `restarted by desk`. */
function markLabel(s: MarkStep): string {
  switch (s.mark) {
    case 'failed':
      return s.onTurnEnd ? '' : `failed: ${s.code ?? '?'}`;
    case 'retried':
      return `retry ${s.attempt ?? 1}`;
    case 'dead-lettered':
      return `dead letter: ${s.code ?? '?'}${s.target === null ? '' : ` (${s.target})`}`;
    case 'restart':
      return `restarted${s.by === null ? '' : ` by ${s.by}`}`;
  }
}

function mark(s: MarkStep, x: number, y: number): string {
  // A failure on the end of its turn sits on the box's lower edge.
  const cy = s.onTurnEnd ? y + 9 : y;
  const shape =
    s.mark === 'failed'
      ? `<path d="M${x},${cy - 8} L${x + 8},${cy + 6} L${x - 8},${cy + 6} z"/>`
      : s.mark === 'retried'
        ? `<circle cx="${x}" cy="${cy}" r="6"/>`
        : s.mark === 'dead-lettered'
          ? `<rect x="${x - 6}" y="${cy - 6}" width="12" height="12"/>`
          : `<circle cx="${x}" cy="${cy}" r="6" fill="none" stroke-width="3"/>`;
  const label = markLabel(s);
  const text = label === '' ? '' : `<text class="label start" x="${x + 13}" y="${y + 4}">${esc(fit(label, (COL + EXTRA / 2) / CHAR))}</text>`;
  return `<g class="mark ${s.mark}" data-actor="${esc(s.actor)}"${s.id === null ? '' : ` data-id="${esc(s.id)}"`}>${shape}${text}<title>${esc(`${s.actor}: ${sentence(s)}`)}</title></g>`;
}

// ---- legend and table -------------------------------------------------------------------

function legend(): string {
  const item = (svg: string, text: string) => `<li><svg class="key" width="46" height="20" viewBox="0 0 46 20">${svg}</svg>${esc(text)}</li>`;
  return `<ul class="legend">
${item('<line x1="3" y1="10" x2="36" y2="10" stroke="#263238" stroke-width="1.6"/><path d="M34,6 L42,10 L34,14 z" fill="#263238"/>', 'a message (its kind, and size or topic)')}
${item('<line x1="3" y1="10" x2="42" y2="10" stroke="#546e7a" stroke-width="1.6" stroke-dasharray="6 4"/><path d="M35,6 L42,10 L35,14" fill="none" stroke="#546e7a" stroke-width="1.6"/>', 'a reply')}
${item('<rect x="16" y="1" width="14" height="18" rx="2" fill="#d7e7ff" stroke="#3d6fb6"/>', 'a turn: the actor handling a message')}
${item('<rect x="16" y="1" width="14" height="18" rx="2" fill="#fde2e2" stroke="#d32f2f"/>', 'a turn that failed')}
${item(`<line x1="3" y1="10" x2="32" y2="10" stroke="${RED}" stroke-width="2" stroke-dasharray="5 3"/><path d="M31,4 L43,16 M31,16 L43,4" stroke="${RED}" stroke-width="2.5"/>`, 'denied by the policy: it never happened')}
${item(`<path d="M23,2 L31,16 L15,16 z" fill="${RED}"/>`, 'a failure')}
${item('<circle cx="23" cy="10" r="6" fill="#ef8f00"/>', 'a retry of the same message')}
${item('<rect x="17" y="4" width="12" height="12" fill="#37474f"/>', 'a dead letter: given up')}
${item('<circle cx="23" cy="10" r="6" fill="none" stroke="#7b1fa2" stroke-width="3"/>', 'the actor was restarted')}
</ul>`;
}

function stepTable(seq: Sequence): string {
  const told = seq.steps.filter((s) => !(s.kind === 'mark' && s.onTurnEnd)); // the failed turn's row says it
  const rows = told.sort((a, b) => a.row - b.row).map((s) => {
    const bad = s.kind === 'denial' || (s.kind === 'mark' && s.mark !== 'restart') || (s.kind === 'turn' && s.outcome !== null && s.outcome !== 'ok') || (s.kind === 'message' && s.reply && s.outcome !== 'ok');
    return `<tr${bad ? ' class="bad"' : ''}><td class="num">+${esc(ms(s.at - seq.start))}</td><td>${esc(whoOf(s))}</td><td>${esc(sentence(s))}</td></tr>`;
  });
  return `<table class="steps"><thead><tr><th>time</th><th>who</th><th>what happened</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

function whoOf(s: Step): string {
  return s.kind === 'message' ? s.from : s.actor;
}

function sentence(s: Step): string {
  switch (s.kind) {
    case 'message':
      if (s.reply) return `replied to ${s.to ?? 'the asker'}${s.outcome === undefined || s.outcome === 'ok' ? '' : ` with the error ${s.outcome}`}`;
      return `sent ${/^[aeiou]/.test(s.msgKind) ? 'an' : 'a'} ${s.msgKind} (${s.size} bytes)${s.msgKind === 'task' || s.msgKind === 'event' ? ` on ${s.subject}` : ''} to ${s.to ?? 'no one'}${s.undelivered ? ', which was not received' : ''}`;
    case 'turn':
      return s.outcome === null || s.outcome === 'ok' ? `handled it in ${s.durationMs === null ? '?' : ms(s.durationMs)}` : `failed to handle it (${s.outcome}) after ${s.durationMs === null ? '?' : ms(s.durationMs)}`;
    case 'denial':
      return `was DENIED: ${s.action} ${s.target} (${s.reason ?? 'denied'}, rule ${s.rule})`;
    case 'mark':
      switch (s.mark) {
        case 'failed':
          return `failed: ${s.code ?? '?'}`;
        case 'retried':
          return `tries the message again (retry ${s.attempt ?? 1}${s.code === null ? '' : ` after ${s.code}`})`;
        case 'dead-lettered':
          return `gave up on the message: dead letter (${s.code ?? '?'})${s.target === null ? '' : `, sent to ${s.target}`}`;
        case 'restart':
          return `was restarted${s.by === null ? '' : ` by ${s.by}`}${s.code === null ? '' : ` after ${s.code}`}`;
      }
  }
}

// ---- small words --------------------------------------------------------------------------

const CSS = `
body{font-family:"DejaVu Sans",system-ui,sans-serif;color:#1f2933;margin:24px;background:#fff}
h1{font-size:20px;margin:0 0 4px}h1 code{font-size:15px;color:#52606d}
h2{font-size:16px;margin:28px 0 8px}
.span{margin:0 0 6px;color:#3e4c59}.fact{display:inline-block;margin:0 6px 4px 0;padding:2px 8px;border-radius:10px;background:#eef2f7;font-size:13px}.fact.bad{background:#fde2e2;color:#b71c1c}
.legend{list-style:none;padding:0;margin:14px 0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px}
.legend li{display:flex;align-items:center;gap:6px}
.diagram{overflow-x:auto;border:1px solid #d9e2ec;border-radius:8px;padding:4px 0}
svg text{font-family:"DejaVu Sans",system-ui,sans-serif;font-size:11px;fill:#1f2933;text-anchor:middle}
svg text.start{text-anchor:start}
.stripe{fill:#f6f8fb}
.time{fill:#7b8794;text-anchor:end}
.lifeline-line{stroke:#9aa5b1;stroke-width:1.2;stroke-dasharray:4 4}
.lifeline-head{fill:#eef3fb;stroke:#5b7db1;stroke-width:1.2}
.lifeline.client .lifeline-head{fill:#fff4e0;stroke:#c48a1b}
.lifeline.runtime .lifeline-head{fill:#f0f0f0;stroke:#888}
.lifeline-name{font-size:12.5px;font-weight:bold}.lifeline-sub{fill:#616e7c;font-size:10px}
.turn rect{fill:#d7e7ff;stroke:#3d6fb6;stroke-width:1.2}
.turn.error rect{fill:#fde2e2;stroke:${RED}}
.turn-label{fill:#3e4c59}.turn.error .turn-label{fill:#b71c1c}
.label{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.message line,.message path{stroke:#263238;stroke-width:1.6}
.message.reply line,.message.reply path{stroke:#546e7a;stroke-dasharray:6 4}
.message.undelivered line{stroke:#78909c;stroke-dasharray:2 3}
.message.error text{fill:#b71c1c}
.denial line{stroke:${RED};stroke-width:2;stroke-dasharray:5 3}
.denial-x{stroke:${RED};stroke-width:2.5;fill:none}
.denial-label{fill:#b71c1c;font-weight:bold}
.mark.failed path{fill:${RED}}.mark.retried circle{fill:#ef8f00}.mark.dead-lettered rect{fill:#37474f}.mark.restart circle{stroke:#7b1fa2}
.steps{border-collapse:collapse;font-size:13px;min-width:560px}
.steps th,.steps td{text-align:left;padding:4px 10px;border-bottom:1px solid #e4e7eb}
.steps td.num{color:#616e7c;white-space:nowrap;text-align:right}
.steps tr.bad td{color:#b71c1c}
footer{margin-top:24px;font-size:12px;color:#7b8794}
`;

/** Text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Cuts text to about `chars` characters (an ellipsis marks the cut; the tooltip has it all). */
function fit(text: string, chars: number): string {
  const max = Math.max(8, Math.floor(chars));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function count(n: number, word: string, plural = `${word}s`): string {
  return `${n} ${n === 1 ? word : plural}`;
}

/** `2024-05-01 10:42:01.120 UTC` */
function when(at: number): string {
  return `${new Date(at).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}
