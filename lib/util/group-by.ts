/** Items grouped by a key, each group in the items' order, keeping `keep(item)` (the item itself by default). */
export function groupBy<T, K, V = T>(
  items: Iterable<T>,
  keyOf: (item: T) => K,
  keep: (item: T) => V = (item) => item as unknown as V,
): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(keep(item));
    else groups.set(key, [keep(item)]);
  }
  return groups;
}
