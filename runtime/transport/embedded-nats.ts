// An embedded nats-server child process for a node started without a NATS URL (and for
// tests): a free port chosen by the server itself, JetStream in a temporary directory,
// and a clean stop. The binary is found, never downloaded: NATS_SERVER_BIN, PATH, /usr/sbin.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { aosError } from '../errors/aos-error.js';

const INSTALL_HINT =
  'install it (Debian/Ubuntu: `apt-get install -y nats-server`; or download from nats.io) or set NATS_SERVER_BIN to its path';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the nats-server binary is; throws ERR_NATS_SERVER_NOT_FOUND with what was searched. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['NATS_SERVER_BIN'];
  if (explicit !== undefined && explicit !== '') {
    if (executable(explicit)) return explicit;
    throw aosError('ERR_NATS_SERVER_NOT_FOUND', `NATS_SERVER_BIN=${explicit} is not an executable file; ${INSTALL_HINT}`, { path: explicit });
  }
  const dirs = [...(env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'nats-server');
    if (executable(candidate)) return candidate;
  }
  throw aosError('ERR_NATS_SERVER_NOT_FOUND', `nats-server was not found on PATH or in /usr/sbin; ${INSTALL_HINT}`, { searched: dirs });
}

export interface EmbeddedNatsOptions {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** How long to wait for the server to be ready (default 10 s). */
  startTimeoutMs?: number;
  /** Extra arguments, e.g. cluster routes. */
  args?: string[];
  /** Port to listen on (default: one the server picks). */
  port?: number;
}

// Children still running when this process exits (even by an uncaught error) are killed,
// so an embedded server never outlives its node.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

export class EmbeddedNats {
  private constructor(
    readonly url: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly storeDir: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(opts: EmbeddedNatsOptions = {}): Promise<EmbeddedNats> {
    const bin = findNatsServer();
    const storeDir = mkdtempSync(join(tmpdir(), 'aos-nats-'));
    const args = ['-a', '127.0.0.1', '-p', String(opts.port ?? -1), ...(opts.jetstream === false ? [] : ['-js', '-sd', storeDir]), ...(opts.args ?? [])];
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let found: number | undefined;
        const tail: string[] = [];
        const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms: ${tail.join(' | ')}`)), timeoutMs);
        const lines = createInterface({ input: child.stderr! });
        lines.on('line', (line) => {
          tail.push(line);
          if (tail.length > 8) tail.shift();
          const m = /Listening for client connections on [^\s]*:(\d+)/.exec(line);
          if (m !== null) found = Number(m[1]);
          if (line.includes('Server is ready') && found !== undefined) {
            clearTimeout(timer);
            lines.removeAllListeners('line');
            child.stderr!.resume(); // keep draining so the child never blocks on a full pipe
            resolve(found);
          }
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`exited with code ${code}: ${tail.join(' | ')}`));
        });
      });
      return new EmbeddedNats(`nats://127.0.0.1:${port}`, port, child, storeDir);
    } catch (err) {
      child.kill('SIGKILL');
      rmSync(storeDir, { recursive: true, force: true });
      throw aosError('ERR_TRANSPORT', `embedded nats-server (${bin}) failed to start`, { bin }, err);
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and removes its store. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
