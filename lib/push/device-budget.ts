import { type Executor, rowsOf } from '../store/db.ts';

/**
 * The devices' push budgets, taken a statement per group instead of one `UPDATE` per push: the
 * takes handed in while a statement runs (or in the same turn of the event loop) go in the next.
 * Each push still takes its budget as it starts (after its push service's slot), and waits for the
 * answer, so what is counted and when is as before; only the statement is shared. Per push that
 * was a statement built by knex and a commit of its own (a WAL frame on SQLite), the largest
 * count of statements the dispatcher ran.
 */
export class BatchedBudget {
  private pending: {
    deviceId: string;
    done: (windowEnd: string | null) => void;
    failed: (err: unknown) => void;
  }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Executor,
    private readonly windowMs: number,
    private readonly limit: number,
  ) {}

  /** Takes one push from the device's budget: null when taken, else when its current window ends. */
  take(deviceId: string): Promise<string | null> {
    return new Promise((done, failed) => {
      this.pending.push({ deviceId, done, failed });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
      if (this.pending.length) this.schedule(); // handed in as the last group finished
    });
  }

  private async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // let the rest of this turn join
    while (this.pending.length) {
      const group = this.pending;
      this.pending = [];
      try {
        const ends = await takeDeviceBudgets(
          this.db,
          group.map((p) => p.deviceId),
          Date.now(),
          this.windowMs,
          this.limit,
        );
        group.forEach((p, i) => {
          p.done(ends[i]!);
        });
      } catch (err) {
        for (const p of group) p.failed(err);
      }
    }
  }
}

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
