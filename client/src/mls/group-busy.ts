/**
 * Runs a device's work on one group one piece at a time (an MLS state moves in steps that must not
 * interleave: a send between processing a commit and storing its result would encrypt at a dead
 * epoch), and lets callers wait until the group reaches a condition.
 */
export class GroupBusy {
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #waiters = new Map<string, Set<{ ready: () => boolean; resolve: () => void }>>();

  /** Runs `work` after everything queued on `key` before it; wakes waiters whose condition now holds. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work).finally(() => this.#wake(key));
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    // Drop the chain once idle, so an idle group holds no promise.
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once `ready()` holds, checked now and after each piece of work on `key`. */
  until(key: string, ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.#waiters.get(key) ?? new Set();
      this.#waiters.set(key, set);
      set.add({ ready, resolve });
    });
  }

  #wake(key: string): void {
    const set = this.#waiters.get(key);
    if (!set) return;
    for (const waiter of set) {
      if (!waiter.ready()) continue;
      set.delete(waiter);
      waiter.resolve();
    }
    if (set.size === 0) this.#waiters.delete(key);
  }
}
