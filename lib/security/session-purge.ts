import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { deleteSessionsEndedBefore } from '../store/sessions.ts';

// Ended sessions are kept a day: a node whose bus connection was down looks up the sessions revoked
// meanwhile (lib/dialects/postgres-bus.ts) and must still find them. Hourly keeps the table within
// an hour of that at negligible cost.
const KEEP_ENDED_MS = 86_400_000;
const PURGE_EVERY_MS = 60 * 60_000;

/** Deletes expired and revoked session rows now and then; returns a stop function. */
export function startSessionPurge(db: Db, log: Logger): () => void {
  const purge = () =>
    deleteSessionsEndedBefore(db, new Date(Date.now() - KEEP_ENDED_MS).toISOString())
      .then((n) => n && log.info({ purged: n }, 'purged ended sessions'))
      .catch((err) => log.error({ err }, 'purging sessions failed'));
  void purge();
  const timer = setInterval(purge, PURGE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
