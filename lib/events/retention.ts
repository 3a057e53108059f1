import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { pruneEvents, prunePresenceEvents } from '../store/events.ts';

// Pruning every 10 minutes keeps the log within minutes of the retention limit at negligible cost.
const PRUNE_EVERY_MS = 10 * 60_000;

// Presence transitions are logged for clients between two polls (the contract promises them to a
// client that re-polls within 30 s) or reconnecting a stream; ten times that is ample, and keeps
// the presence rows every poll looks through few.
export const PRESENCE_EVENTS_KEPT_MS = 5 * 60_000;
const PRUNE_PRESENCE_EVERY_MS = 60_000;

/** Deletes events older than the retention (and presence transitions after minutes) now and then; returns a stop function. */
export function startRetention(db: Db, retentionMs: number, log: Logger): () => void {
  const prune = () =>
    pruneEvents(db, new Date(Date.now() - retentionMs).toISOString())
      .then((n) => n && log.info({ pruned: n }, 'pruned old events'))
      .catch((err) => log.error({ err }, 'pruning events failed'));
  const prunePresence = () =>
    prunePresenceEvents(db, new Date(Date.now() - PRESENCE_EVENTS_KEPT_MS).toISOString()).catch((err) =>
      log.error({ err }, 'pruning presence events failed'),
    );
  void prune();
  const timer = setInterval(prune, PRUNE_EVERY_MS);
  timer.unref();
  const presenceTimer = setInterval(prunePresence, PRUNE_PRESENCE_EVERY_MS);
  presenceTimer.unref();
  return () => {
    clearInterval(timer);
    clearInterval(presenceTimer);
  };
}
