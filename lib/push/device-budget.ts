import { type Executor, rowsOf } from '../store/db.ts';

// Both CASEs read the row as it was (SQL evaluates every SET expression against the old row).
const EXPIRED = '(window_started_at IS NULL OR window_started_at <= ?)';
const CHUNK = 500;

/**
 * Takes one push from each listed device's budget — at most `limit` per window of `windowMs`,
 * counted in the subscription's row so every node sees the same count — as if one after another
 * in list order: a device listed twice is counted twice. Per entry: null when taken, else when the
 * device's current window ends (now, when it has no subscription any more: held back until now,
 * the delivery is skipped at its next turn).
 */
export async function takeDeviceBudgets(
  db: Executor,
  deviceIds: readonly string[],
  nowMs: number,
  windowMs: number,
  limit: number,
): Promise<(string | null)[]> {
  const now = new Date(nowMs).toISOString();
  const cutoff = new Date(nowMs - windowMs).toISOString();
  // A device's second take in the list goes in a second statement, after its first, and so on.
  const layers: number[][] = [];
  const seen = new Map<string, number>();
  deviceIds.forEach((id, i) => {
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    if (!layers[k]) layers[k] = [];
    layers[k].push(i);
  });
  const ends: (string | null)[] = deviceIds.map(() => null);
  const refused: number[] = [];
  for (const layer of layers) {
    for (let c = 0; c < layer.length; c += CHUNK) {
      const entries = layer.slice(c, c + CHUNK);
      const ids = entries.map((i) => deviceIds[i]!);
      const taken = rowsOf<{ device_id: string }>(
        await db.raw(
          `UPDATE push_subscriptions
              SET window_sent = CASE WHEN ${EXPIRED} THEN 1 ELSE window_sent + 1 END,
                  window_started_at = CASE WHEN ${EXPIRED} THEN ? ELSE window_started_at END
            WHERE device_id IN (${ids.map(() => '?').join(', ')}) AND (${EXPIRED} OR window_sent < ?)
           RETURNING device_id`,
          [cutoff, cutoff, now, ...ids, cutoff, limit],
        ),
      );
      const got = new Set(taken.map((r) => r.device_id));
      for (const i of entries) if (!got.has(deviceIds[i]!)) refused.push(i);
    }
  }
  if (refused.length === 0) return ends;
  const starts = new Map<string, string | null>();
  const unique = [...new Set(refused.map((i) => deviceIds[i]!))];
  for (let c = 0; c < unique.length; c += CHUNK) {
    const ids = unique.slice(c, c + CHUNK);
    const rows = rowsOf<{ device_id: string; window_started_at: string | null }>(
      await db.raw(
        `SELECT device_id, window_started_at FROM push_subscriptions
          WHERE device_id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      ),
    );
    for (const r of rows) starts.set(r.device_id, r.window_started_at);
  }
  for (const i of refused) {
    const start = starts.get(deviceIds[i]!);
    ends[i] = start ? new Date(Date.parse(start) + windowMs).toISOString() : now;
  }
  return ends;
}
