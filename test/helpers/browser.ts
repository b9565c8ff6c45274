// Debian's chromium, headless, driven by playwright-core, for the tests of the trace pages:
// .ci/ensure-chromium.sh finds /usr/bin/chromium (or installs it once, as root), then it is
// launched with the flags this machine's closed network needs; and a screenshot check.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from './processes.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The first install of chromium can take minutes: a beforeAll that calls launchChromium needs this long. */
export const CHROMIUM_SETUP_MS = 660_000;

export async function launchChromium(): Promise<Browser> {
  execFileSync('sh', [join(packageRoot(), '.ci', 'ensure-chromium.sh')], { stdio: 'inherit', timeout: 600_000 });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

interface Pixels {
  data: { length: number; [i: number]: number };
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { drawImage(img: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): Pixels } | null;
}
declare const document: { createElement(tag: 'canvas'): Canvas };
declare const Image: new () => { src: string; naturalWidth: number; naturalHeight: number; decode(): Promise<void> };

/** Decodes a PNG in a blank page's canvas: its size, and how many pixels are not white, and how many are red. */
export async function pixels(browser: Browser, png: Buffer): Promise<{ width: number; height: number; inked: number; red: number }> {
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
      let red = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
        if (r < 235 || g < 235 || b < 235) inked++;
        if (r > 170 && g < 90 && b < 90) red++;
      }
      return { width: canvas.width, height: canvas.height, inked, red };
    }, png.toString('base64'));
  } finally {
    await blank.close();
  }
}
