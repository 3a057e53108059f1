/** Percentile by nearest rank of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export const ascending = (values: number[]): number[] => values.sort((a, b) => a - b);

export const median = (values: number[]): number => percentile(ascending([...values]), 50);

/** The distribution at every whole percentile, 0–100: what the chart and the results file keep. */
export const percentiles = (sorted: readonly number[]): number[] =>
  Array.from({ length: 101 }, (_, p) => round(p === 0 ? (sorted[0] ?? Number.NaN) : percentile(sorted, p)));

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
