import type { Runner } from '../store/db.ts';
import { dialectOf } from '../store/dialect.ts';
import { prepared } from '../store/prepared.ts';

// Both CASEs read the row as it was (SQL evaluates every SET expression against the old row).
const EXPIRED = '(window_started_at IS NULL OR window_started_at <= ?)';

/**
 * Takes one push from each listed device's budget — at most `limit` per window of `windowMs`,
 * counted in the subscription's row so every node sees the same count — as if one after another
 * in list order: a device listed twice is counted twice. Per entry: null when taken, else when the
 * device's current window ends (now, when it has no subscription any more: held back until now,
 * the delivery is skipped at its next turn).
 */
export async function takeDeviceBudgets(
  db: Runner,
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
    const taken = await takeBudgets.rows<{ device_id: string }>(db, {
      cutoff,
      now,
      limit,
      ids: dialectOf(db).list(layer.map((i) => deviceIds[i]!)),
    });
    const got = new Set(taken.map((r) => r.device_id));
    for (const i of layer) if (!got.has(deviceIds[i]!)) refused.push(i);
  }
  if (refused.length === 0) return ends;
  const rows = await selectWindows.rows<{ device_id: string; window_started_at: string | null }>(db, {
    ids: dialectOf(db).list([...new Set(refused.map((i) => deviceIds[i]!))]),
  });
  const starts = new Map(rows.map((r) => [r.device_id, r.window_started_at]));
  for (const i of refused) {
    const start = starts.get(deviceIds[i]!);
    ends[i] = start ? new Date(Date.parse(start) + windowMs).toISOString() : now;
  }
  return ends;
}

const takeBudgets = prepared(['cutoff', 'now', 'limit', 'ids'], (db, p) =>
  db.raw(
    `UPDATE push_subscriptions
        SET window_sent = CASE WHEN ${EXPIRED} THEN 1 ELSE window_sent + 1 END,
            window_started_at = CASE WHEN ${EXPIRED} THEN ? ELSE window_started_at END
      WHERE device_id IN ? AND (${EXPIRED} OR window_sent < ?)
     RETURNING device_id`,
    [p.cutoff, p.cutoff, p.now, dialectOf(db).listOf(db, p.ids, 'text'), p.cutoff, p.limit],
  ),
);

const selectWindows = prepared(['ids'], (db, p) =>
  db('push_subscriptions')
    .select('device_id', 'window_started_at')
    .whereIn('device_id', dialectOf(db).listOf(db, p.ids, 'text')),
);
