import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { pruneEvents } from '../store/events.ts';

// Pruning every 10 minutes keeps the log within minutes of the retention limit at negligible cost.
const PRUNE_EVERY_MS = 10 * 60_000;

/** Deletes events older than the retention now and then; returns a stop function. */
export function startRetention(db: Db, retentionMs: number, log: Logger): () => void {
  const prune = () =>
    pruneEvents(db, new Date(Date.now() - retentionMs).toISOString())
      .then((n) => n && log.info({ pruned: n }, 'pruned old events'))
      .catch((err) => log.error({ err }, 'pruning events failed'));
  void prune();
  const timer = setInterval(prune, PRUNE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
