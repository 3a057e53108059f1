import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/**
 * WAL pages the serving connection lets pile up before it checkpoints by itself: only a backstop,
 * for when the checkpointer thread cannot keep up or could not start (about 40 MiB of WAL).
 */
export const CHECKPOINT_BACKSTOP_PAGES = 10_000;
/** How often the checkpointer thread copies the WAL into the database file. */
const CHECKPOINT_EVERY_MS = 500;

/**
 * Checkpoints a SQLite database's WAL on a thread of its own. SQLite checkpoints by itself inside
 * the COMMIT that takes the WAL past `wal_autocheckpoint` pages, and with `synchronous=NORMAL` that
 * checkpoint is where it waits for the disk (fsync): measured in-process, 1–2 % of a send's commits
 * took 1–90 ms on the event loop that way, more than half of all the time spent committing. Here
 * the serving connection only appends to the WAL, and this thread's connection does the copying
 * and the waiting. Durability is unchanged: a committed transaction is in the WAL either way.
 */
export function startCheckpointer(filename: string, log: Logger): { stop(): Promise<void> } {
  const worker = new Worker(new URL('./sqlite-checkpointer.js', import.meta.url), {
    workerData: { filename, intervalMs: CHECKPOINT_EVERY_MS },
  });
  worker.unref();
  worker.on('message', (m: { error?: string }) => {
    if (m.error) log.warn({ error: m.error }, 'WAL checkpoint failed; it is tried again');
  });
  worker.on('error', (err) =>
    log.error({ err }, 'the WAL checkpointer stopped; the server checkpoints by itself'),
  );
  const exited = once(worker, 'exit').catch(() => undefined);
  return {
    async stop() {
      worker.postMessage('stop');
      await exited;
    },
  };
}
