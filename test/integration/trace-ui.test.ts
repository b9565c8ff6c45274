// The trace page of `aos start --ui` (cli/trace-ui.ts) in a real headless browser: serveTraceUi
// on a free port over a hand-built log (test/helpers/trace-chain.ts, written by FileLog); chromium,
// driven by playwright-core, opens `/`, finds the chain listed, follows its link and finds the
// diagram drawn. Plain HTTP for the 400 and 404s, and the built CLI for `--ui` without `--trace`.
// .ci/ensure-chromium.sh finds /usr/bin/chromium (or installs it once, as root): beforeAll runs it.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTraceUi, type TraceUi } from '../../cli/trace-ui.js';
import { AOS_BIN, packageRoot } from '../helpers/processes.js';
import { CHAIN, OTHER_CHAIN, PARTICIPANTS, T0, writeChainLog } from '../helpers/trace-chain.js';

// The browser globals the page function below uses (the tests' tsconfig has no DOM lib).
interface Pixels {
  data: Uint8ClampedArray;
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { drawImage(img: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): Pixels } | null;
}
declare const document: { createElement(tag: 'canvas'): Canvas };
declare const Image: new () => { src: string; naturalWidth: number; naturalHeight: number; decode(): Promise<void> };

// The launch of test/integration/trace-html.test.ts (it exports no helper).
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dir: string;
let ui: TraceUi;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // The first install of chromium can take minutes; later runs find it at once.
  execFileSync('sh', [join(packageRoot(), '.ci', 'ensure-chromium.sh')], { stdio: 'inherit', timeout: 600_000 });
  dir = mkdtempSync(join(tmpdir(), 'aos-trace-ui-'));
  ui = await serveTraceUi({ file: writeChainLog(dir), port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 660_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Decodes a PNG in a blank page's canvas: its size, and how many pixels are not white. */
async function pixels(png: Buffer): Promise<{ width: number; height: number; inked: number }> {
  const blank = await browser.newPage();
  try {
    return await blank.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! < 235 || data[i + 1]! < 235 || data[i + 2]! < 235) inked++;
      return { width: canvas.width, height: canvas.height, inked };
    }, png.toString('base64'));
  } finally {
    await blank.close();
  }
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [AOS_BIN, ...args], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('trace ui', () => {
  it('trace ui - listens on 127.0.0.1 only, on the free port it was given', () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
  });

  it('trace ui - / lists the chains newest first, the failed and denied one in red', async () => {
    const res = await page.goto(ui.url, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(await page.$$eval('#chains tr.chain', (els) => els.map((e) => e.getAttribute('data-chain')))).toEqual([OTHER_CHAIN, CHAIN]);
    const row = page.locator(`#chains tr[data-chain="${CHAIN}"]`);
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe(new Date(T0).toISOString().replace('T', ' ').replace('Z', ''));
    expect(cells[2]).toBe('external/web → demo.task.tickets');
    expect(cells[3]).toBe('3');
    expect(cells[4]).toBe('failed, denied');
    const color = await row.locator('td.status').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color);
    expect(color).toBe('rgb(211, 47, 47)');
    expect(await page.locator(`#chains tr[data-chain="${OTHER_CHAIN}"] td.status`).textContent()).toBe('ok');
  });

  it('trace ui - a chain link opens its sequence diagram, with a link back', async () => {
    await page.goto(ui.url, { waitUntil: 'load' });
    await page.locator(`#chains tr[data-chain="${CHAIN}"] a`).click();
    await page.waitForURL(`${ui.url}chain/${CHAIN}`);
    expect(await page.title()).toBe(`Chain of work ${CHAIN}`);
    expect(await page.$$eval('#sequence .lifeline', (els) => els.map((e) => e.getAttribute('data-actor')))).toEqual(PARTICIPANTS);
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const shot = await pixels(png);
    expect(shot.width).toBe(1280);
    expect(shot.inked / (shot.width * shot.height)).toBeGreaterThan(0.03);
    await page.locator('#back').click();
    await page.waitForURL(ui.url);
    expect(await page.locator('#chains tr.chain').count()).toBe(2);
  });

  it('trace ui - an unknown path or chain is 404, a malformed chain id 400, and the server goes on', async () => {
    expect((await fetch(`${ui.url}nope`)).status).toBe(404);
    expect((await fetch(`${ui.url}chain/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${ui.url}chain/not-a-chain`)).status).toBe(400);
    expect((await fetch(`${ui.url}chain/${CHAIN.toUpperCase()}`)).status).toBe(400);
    expect((await fetch(`${ui.url}chain/%3Cscript%3E`)).status).toBe(400);
    expect((await fetch(ui.url, { method: 'POST' })).status).toBe(405);
    expect((await fetch(ui.url)).status).toBe(200);
  });

  it('trace ui - close stops listening', async () => {
    const other = await serveTraceUi({ file: join(dir, 'missing.log') });
    const res = await fetch(other.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="empty"');
    await other.close();
    await expect(fetch(other.url)).rejects.toThrow();
  });

  it('cli - start --ui without --trace is a usage error (exit 2)', async () => {
    const r = await run(['start', '--ui']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--trace');
    expect(r.stdout).toBe('');
    const port = await run(['start', '--trace', join(dir, 'x.log'), '--ui', '--ui-port', '70000']);
    expect(port.code).toBe(2);
  });
});
