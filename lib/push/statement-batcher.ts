/**
 * Runs a statement per group of calls instead of one per call: inputs handed in while a statement
 * runs (or in the same turn of the event loop) go in the next. Each caller still waits for its own
 * answer, so what happens and when is as before; only the statement is shared. The push
 * dispatcher's per-push statements (deleting a settled delivery, taking a device's budget) were
 * the largest count of statements it ran: per push, a statement and a commit of its own (a WAL
 * frame on SQLite).
 */
export class StatementBatcher<I, O> {
  private pending: { input: I; done: (output: O) => void; failed: (err: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  /** `run` answers each input of a group, in the order given. */
  constructor(private readonly run: (inputs: I[]) => Promise<O[]>) {}

  add(input: I): Promise<O> {
    return new Promise((done, failed) => {
      this.pending.push({ input, done, failed });
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
        const outputs = await this.run(group.map((p) => p.input));
        group.forEach((p, i) => {
          p.done(outputs[i]!);
        });
      } catch (err) {
        for (const p of group) p.failed(err);
      }
    }
  }
}
