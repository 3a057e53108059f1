import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export { now } from './clock.ts';

import { now } from './clock.ts';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// 20,000 is this machine's hard limit; 10,000 streams plus the listening socket and database fit.
const OPEN_FILES = 20_000;

/** Spawns `node <args>` with a raised open-files limit; `exec` keeps the pid the node process's own. */
export function spawnNode(args: string[], env: Record<string, string>, ipc = false): ChildProcess {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return spawn('bash', ['-c', `ulimit -n ${OPEN_FILES}; exec node ${quoted}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A server under test: Parley or a floor, in its own process. */
export interface ServerProc {
  name: string;
  url: string;
  host: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Milliseconds from spawning the process to its first 200 from /health. */
  startedInMs: number;
  stop(): Promise<void>;
}

export async function waitForHealth(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {}
    await sleep(5);
  }
  throw new Error(`${url}/health did not answer 200 within ${timeoutMs} ms`);
}

export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  opts: { nodeFlags?: string[]; port?: number } = {},
): Promise<ServerProc> {
  const port = opts.port ?? (await freePort());
  const t0 = now();
  const child = spawnNode([...(opts.nodeFlags ?? []), '--import', 'tsx', script], {
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
  });
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, 120_000, child);
  const startedInMs = now() - t0;
  return {
    startedInMs,
    name,
    url,
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    child,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL after 10 s: every run stops by itself. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    // It ended before we asked: whatever was measured against it is void.
    throw new Error(
      `server process ${child.pid} died during the run (${child.exitCode ?? child.signalCode})`,
    );
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Resident memory of a process, in bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** CPU time (user + system, all threads) a process has used, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * How long a process's main thread — a server's request thread — has been ready to run but waiting
 * for a CPU, in milliseconds (Linux's scheduler statistics: the second field of the thread's
 * schedstat). Null where the kernel does not keep them.
 */
export function runQueueWaitMs(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return null;
  }
}

/** Waits until a process has been nearly idle for a while: the way to await work with no reply. */
export async function waitIdle(pid: number, timeoutMs: number, windowMs = 300): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = cpuMs(pid);
  while (Date.now() < deadline) {
    await sleep(windowMs);
    const used = cpuMs(pid);
    if (used - last <= windowMs * 0.1) return;
    last = used;
  }
}

/** A load-generating child process speaking JSON over IPC. */
export class LoadProc {
  private readonly child: ChildProcess;
  private readonly inbox: Record<string, unknown>[] = [];
  private waiter: (() => void) | null = null;

  constructor(script: string) {
    this.child = spawnNode(['--import', 'tsx', script], {}, true);
    this.child.stdout?.resume();
    this.child.on('message', (m: Record<string, unknown>) => {
      this.inbox.push(m);
      this.waiter?.();
    });
  }

  send(message: unknown): void {
    this.child.send(message as never);
  }

  async next<T = Record<string, unknown>>(type: string, timeoutMs = 600_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      if (Date.now() > deadline) throw new Error(`load client: no "${type}" within ${timeoutMs} ms`);
      if (this.child.exitCode !== null) throw new Error(`load client exited with ${this.child.exitCode}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 1000);
      });
      this.waiter = null;
    }
  }

  async request<T = Record<string, unknown>>(message: unknown, reply: string, timeoutMs?: number) {
    this.send(message);
    return this.next<T>(reply, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.child.connected) this.send({ op: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    if (this.child.exitCode === null) await once(this.child, 'exit');
    clearTimeout(timer);
  }
}

/** The stream client's command opening an SSE stream on `server` for each of `users`. */
export const sseOpen = (
  server: { host: string; port: number },
  users: { token: string }[],
  extra: { concurrency?: number; spreadMs?: number; count?: string } = {},
) => ({
  op: 'sse-open',
  host: server.host,
  port: server.port,
  requests: users.map((u) => ({ path: '/events', token: u.token })),
  ready: ': live',
  concurrency: 200,
  ...extra,
});

export async function startStreamClient(): Promise<LoadProc> {
  const client = new LoadProc('bench/load/stream-client.ts');
  await client.next('ready', 60_000);
  return client;
}

export interface CannonResult {
  rps: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon in its own process and returns its summary. */
export async function cannon(options: Record<string, unknown>): Promise<CannonResult> {
  const child = spawnNode(['--import', 'tsx', 'bench/load/cannon.ts', JSON.stringify(options)], {});
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`autocannon exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as CannonResult;
}
