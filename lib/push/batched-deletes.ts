/**
 * Deletes settled deliveries a statement per group instead of one per push: ids handed in while
 * a delete runs (or in the same turn of the event loop) go in the next one. Each caller still
 * waits for its own row to be gone, so a push counts as in flight until its row is deleted, and a
 * crash before that repeats the push — at least once, as before, only the group shares the
 * statement.
 */
export class BatchedDeletes {
  private pending: { id: number; done: () => void; failed: (err: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly deleteIds: (ids: number[]) => Promise<void>) {}

  delete(id: number): Promise<void> {
    return new Promise((done, failed) => {
      this.pending.push({ id, done, failed });
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
        await this.deleteIds(group.map((p) => p.id));
        for (const p of group) p.done();
      } catch (err) {
        for (const p of group) p.failed(err);
      }
    }
  }
}
