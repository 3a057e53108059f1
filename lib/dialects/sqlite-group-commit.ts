import type { Db, Runner } from '../store/db.ts';
import { control, onOneConnection } from '../store/prepared.ts';

/**
 * The most writes one transaction takes. A group holds SQLite's one connection until it commits,
 * so this bounds what a read queued behind it waits: some 64 × 0.15 ms.
 */
const GROUP_LIMIT = 64;

interface Write {
  work: (trx: Runner) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * Group commit on SQLite's one connection: the prepared writes asked for in one turn of the event
 * loop (a burst of sends, say) run one after another in one transaction, each in a savepoint of its
 * own, and commit together. A commit writes every page the transaction dirtied to the WAL — the
 * message's, the event's and each of their indexes' — and the same pages serve the whole group, so
 * COMMIT, the largest cost of a send, is paid once per group. Each write's promise settles after
 * the commit, as with a transaction of its own; a write that fails is rolled back to its savepoint
 * and fails alone. Writes run in the order they were asked for, as they queued for the connection.
 */
export class GroupCommit {
  private queue: Write[] = [];
  private scheduled = false;

  constructor(private readonly db: Db) {}

  run<T>(work: (trx: Runner) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O of this turn: every request that arrived with this one has queued its write.
        setImmediate(() => this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, GROUP_LIMIT);
      await onOneConnection(this.db, (trx) => commitGroup(trx, group)).catch((err: unknown) => {
        // No connection, or no new BEGIN after a lost transaction: every write of the group not
        // settled yet fails (a settled promise ignores this).
        for (const write of group) write.reject(err);
      });
    }
  }
}

async function commitGroup(trx: Runner, group: Write[]): Promise<void> {
  const done: { write: Write; result: unknown }[] = [];
  const failAll = (err: unknown) => {
    for (const { write } of done) write.reject(err);
    done.length = 0;
  };
  await control(trx, 'BEGIN');
  for (const write of group) {
    await control(trx, 'SAVEPOINT w');
    try {
      const result = await write.work(trx);
      await control(trx, 'RELEASE w');
      done.push({ write, result });
    } catch (err) {
      write.reject(err);
      try {
        await control(trx, 'ROLLBACK TO w');
        await control(trx, 'RELEASE w');
      } catch (lost) {
        // SQLite rolled the whole transaction back (an I/O error, a full disk): the writes before
        // this one are gone too; the rest start a transaction of their own.
        failAll(lost);
        await control(trx, 'BEGIN');
      }
    }
  }
  try {
    await control(trx, 'COMMIT');
  } catch (err) {
    await control(trx, 'ROLLBACK').catch(() => {});
    failAll(err);
  }
  for (const { write, result } of done) write.resolve(result);
}
