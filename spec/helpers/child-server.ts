import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clusterEnv, dropSchema } from './postgres.ts';

const SERVER_ENTRY = resolve(import.meta.dirname, '../../lib/server.ts');

/**
 * A free loopback port, for a process that cannot listen on port 0 and report back (a child server
 * keeps it across restarts, so clients need not learn a new one; nginx needs it in its config).
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

/**
 * Waits until `url`/health answers — 90 s at most (a cold tsx start on a busy 2-core machine), 100 ms
 * between tries — for a server a spec spawned itself; fails with its `output()` if `proc` exits first.
 */
export async function untilHealthy(url: string, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (
    !(await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ChildServer {
  url: string;
  dir: string;
  /** The running process's pid, or null while it is down. */
  readonly pid: number | null;
  /** Starts (or restarts) `lib/server.ts` on the same database and port, resolving once /health answers. */
  start(): Promise<void>;
  /** kill -9: no shutdown code runs. */
  kill(): Promise<void>;
  /** The process's resident memory in bytes (Linux /proc), or null. */
  rss(): Promise<number | null>;
  /** Stops it gracefully (SIGTERM) and deletes its data. */
  close(): Promise<void>;
}

/**
 * Parley in a child process (`node --import tsx lib/server.ts`, one process, so a SIGKILL really
 * kills the server) on a temporary SQLite file — or a PostgreSQL URL given in `env`.
 */
export async function childServer(env: Record<string, string> = {}): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-child-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fullEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'parley.db')}`,
    DATA_DIR: dir,
    // Fixed across restarts, so tokens issued before a crash still work after it.
    SESSION_SECRET: randomBytes(24).toString('base64url'),
    LOG_LEVEL: process.env.PARLEY_TEST_LOG_LEVEL ?? 'warn',
    REGISTRATIONS_PER_WINDOW: '0',
    MESSAGES_PER_WINDOW: '0',
    TYPING_PER_WINDOW: '0',
    ...env,
  };
  let child: ChildProcess | null = null;
  let stderr = '';

  const start = async () => {
    if (child) throw new Error('already running');
    stderr = '';
    const proc = spawn(process.execPath, ['--import', 'tsx', SERVER_ENTRY], {
      env: fullEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    // Bounded: 90 s (a cold tsx start on a busy 2-core machine, several at once), 100 ms between tries.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child !== proc) throw new Error(`the server exited while starting:\n${stderr}`);
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the server did not answer /health within 90 s:\n${stderr}`);
  };

  const stop = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc) return;
    const exited = once(proc, 'exit');
    proc.kill(signal);
    await exited;
    child = null;
  };

  return {
    url,
    dir,
    get pid() {
      return child?.pid ?? null;
    },
    start,
    kill: () => stop('SIGKILL'),
    rss: async () => {
      const pid = child?.pid;
      if (!pid) return null;
      try {
        const { readFile } = await import('node:fs/promises');
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
        return kb ? Number(kb) * 1024 : null;
      } catch {
        return null;
      }
    },
    close: async () => {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Two nodes of one cluster, and the PostgreSQL schema they share. */
export interface TwoNodes {
  readonly a: ChildServer;
  readonly b: ChildServer;
  readonly schema: string;
}

/**
 * Two Parley nodes (child processes) on one fresh PostgreSQL schema with one session secret, for the
 * enclosing `describe`: set up before its first spec and closed, the schema dropped, after its last.
 * They start one after the other (B finds the schema A migrated), or, with `start: false`, when the
 * specs start them. `a` and `b` may be taken in the `describe` body, like useServer's users.
 */
export function useTwoNodes(
  schemaPrefix: string,
  env: Record<string, string>,
  { start = true }: { start?: boolean } = {},
): TwoNodes {
  const cluster = clusterEnv(schemaPrefix);
  let nodes: [ChildServer, ChildServer] | undefined;
  before(async () => {
    const nodeEnv = { ...cluster.env, ...env };
    nodes = await Promise.all([childServer(nodeEnv), childServer(nodeEnv)]);
    if (start) {
      await nodes[0].start();
      await nodes[1].start();
    }
  });
  after(async () => {
    await Promise.all((nodes ?? []).map((node) => node.close()));
    await dropSchema(cluster.schema);
  });
  const node = (i: 0 | 1) => () => {
    if (!nodes) throw new Error('useTwoNodes: the nodes are set up in a before() hook; use them in specs');
    return nodes[i];
  };
  return { a: nodeHandle(node(0)), b: nodeHandle(node(1)), schema: cluster.schema };
}

/** A ChildServer whose fields and methods are those of the one `get` returns, when used. */
function nodeHandle(get: () => ChildServer): ChildServer {
  return {
    get url() {
      return get().url;
    },
    get dir() {
      return get().dir;
    },
    get pid() {
      return get().pid;
    },
    start: () => get().start(),
    kill: () => get().kill(),
    rss: () => get().rss(),
    close: () => get().close(),
  };
}
