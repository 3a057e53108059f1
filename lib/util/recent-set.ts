/** The last `capacity` distinct values added: adding one more forgets the oldest. */
export class RecentSet<T> {
  private readonly values = new Set<T>();

  constructor(private readonly capacity: number) {}

  add(value: T): void {
    this.values.delete(value);
    this.values.add(value);
    if (this.values.size > this.capacity) this.values.delete(this.values.values().next().value as T);
  }

  has(value: T): boolean {
    return this.values.has(value);
  }
}
