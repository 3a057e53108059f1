/** Values that arrive over time (events, transport changes), and a way to await the ones a spec needs. */
export class Timeline<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();

  push(item: T): void {
    this.items.push(item);
    for (const check of [...this.waiters]) check();
  }

  get last(): T | undefined {
    return this.items.at(-1);
  }

  /** Resolves once `test` holds for what has arrived; fails after `waitMs` showing what did. */
  until(test: (items: readonly T[]) => boolean, what: string, waitMs = 10_000): Promise<void> {
    if (test(this.items)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!test(this.items)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; saw ${JSON.stringify(this.items)}`));
      }, waitMs);
      this.waiters.add(check);
    });
  }
}
