/**
 * Lets a spec wait for a condition that callbacks make true (a frame, a message, a connection):
 * whoever changes the state calls `notify()`, and `until()` looks again then — no polling, no
 * fixed sleep.
 */
export class Changes {
  private waiters: (() => void)[] = [];

  /** Wakes every waiter to look again. */
  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `done()` holds, looking again at each notify; rejects after `waitMs`. */
  async until(done: () => boolean, what: string, waitMs = 5000): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
