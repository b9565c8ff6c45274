// `aos trace html` in a real headless browser: the built CLI draws a hand-built chain (a log
// written by FileLog in a temp dir) and Debian's chromium, driven by playwright-core, opens the
// page from a file:// URL. The DOM must hold one lifeline per participant and one arrow per
// message, the denial must be red, nothing may be fetched, and a screenshot must show a drawing.
// .ci/ensure-chromium.sh finds /usr/bin/chromium (or installs it once, as root): beforeAll runs it.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_SETUP_MS, launchChromium, pixels } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAos } from '../helpers/processes.js';
import { ARROWS, CHAIN, PARTICIPANTS, writeChainLog } from '../helpers/trace-chain.js';

// The few browser globals the page functions below use: they run in chromium, and the tests'
// tsconfig has no DOM lib (declared here, in this module only).
interface Box {
  x: number;
  left: number;
  right: number;
}
declare const document: { querySelector(selector: string): { getBoundingClientRect(): Box } | null };
declare function getComputedStyle(element: unknown): { stroke: string };


let dir: string;
let browser: Browser;
let page: Page;
/** Every URL the page asked for. */
const requested: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aos-trace-html-'));
  const log = writeChainLog(dir);
  const out = join(dir, 'chain.html');
  const cli = await runAos(['trace', 'html', CHAIN, '--file', log, '--out', out]);
  if (cli.code !== 0) throw new Error(`aos trace html exited ${cli.code}: ${cli.stderr}`);
  expect(cli.stdout).toBe(`${out}\n`);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
}, CHROMIUM_SETUP_MS);

afterAll(async () => {
  await browser?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});


/** `rgb(211, 47, 47)` -> [211, 47, 47]. */
function rgb(css: string): number[] {
  return (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
}

const isRed = ([r, g, b]: number[]) => r! > 170 && g! < 90 && b! < 90;


describe('trace html in chromium', () => {
  it('trace html - one lifeline per participant, left to right in order of appearance', async () => {
    const actors = await page.$$eval('#sequence .lifeline', (els) => els.map((e) => e.getAttribute('data-actor')));
    expect(actors).toEqual(PARTICIPANTS);
    const xs = await page.$$eval('#sequence .lifeline .lifeline-line', (els) => els.map((e) => e.getBoundingClientRect().x));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(new Set(xs).size).toBe(PARTICIPANTS.length);
    const names = await page.$$eval('#sequence .lifeline-name', (els) => els.map((e) => e.textContent));
    expect(names).toEqual(PARTICIPANTS);
  });

  it('trace html - one arrow per message, each from its sender to its receiver lifeline', async () => {
    expect(await page.locator('#sequence .message').count()).toBe(ARROWS);
    const geometry = await page.$$eval('#sequence .message', (els) =>
      els.map((g) => {
        const line = g.querySelector('line')!.getBoundingClientRect();
        const at = (id: string) => document.querySelector(`#sequence .lifeline[data-actor="${id}"] .lifeline-line`)!.getBoundingClientRect().x;
        return { from: at(g.getAttribute('data-from')!), to: at(g.getAttribute('data-to')!), left: line.left, right: line.right };
      }),
    );
    for (const a of geometry) {
      // The arrow spans the gap between the two lifelines (less the turn boxes' half-width).
      expect(Math.abs(Math.min(a.from, a.to) - a.left)).toBeLessThan(12);
      expect(Math.abs(Math.max(a.from, a.to) - a.right)).toBeLessThan(12);
    }
    expect(await page.locator('#sequence .turn').count()).toBe(5);
  });

  it('trace html - the denial is drawn in red, the failed turns too; the legend explains them', async () => {
    expect(await page.locator('#sequence .denial').count()).toBe(1);
    const stroke = await page.$eval('#sequence .denial line', (e) => getComputedStyle(e).stroke);
    expect(isRed(rgb(stroke))).toBe(true);
    const cross = await page.$eval('#sequence .denial .denial-x', (e) => getComputedStyle(e).stroke);
    expect(isRed(rgb(cross))).toBe(true);
    expect(await page.$eval('#sequence .denial text', (e) => e.textContent)).toBe('DENIED tell notifier/n1');
    const failed = await page.$$eval('#sequence .turn.error rect', (els) => els.map((e) => getComputedStyle(e).stroke));
    expect(failed).toHaveLength(3);
    for (const s of failed) expect(isRed(rgb(s))).toBe(true);
    const legend = await page.locator('.legend li').allTextContents();
    expect(legend.some((t) => t.includes('denied'))).toBe(true);
    expect(await page.title()).toBe(`Chain of work ${CHAIN}`);
  });

  it('trace html - the page fetches nothing but itself', () => {
    expect(requested.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(requested).toHaveLength(1);
  });

  it('trace html - a screenshot shows a drawing, with red where the denial is', async () => {
    const png = await page.screenshot({ fullPage: true });
    const file = join(dir, 'chain.png');
    writeFileSync(file, png);
    expect(existsSync(file)).toBe(true);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    const all = await pixels(browser, png);
    expect(all.width).toBe(1280);
    expect(all.height).toBeGreaterThan(900); // the diagram and its table run past one screen
    expect(all.inked / (all.width * all.height)).toBeGreaterThan(0.03);
    expect(all.red).toBeGreaterThan(200);
    const denial = await pixels(browser, await page.locator('#sequence .denial').screenshot());
    expect(denial.red).toBeGreaterThan(50);
  });
});
