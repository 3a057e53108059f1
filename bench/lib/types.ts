/** How a row's ratio (Parley ÷ floor) is judged. */
export type Goal =
  | { kind: 'at-least'; ratio: number }
  | { kind: 'at-most'; ratio: number }
  /** Both sides must be zero (errors). */
  | { kind: 'zero' }
  /** Reported, no goal. */
  | { kind: 'report' }
  /** Parley's own figure must reach `value` (in the row's unit); the floor's is shown beside it. */
  | { kind: 'value-at-least'; value: number }
  /** Parley's own figure must stay within `value` (in the row's unit); the floor's is shown beside it. */
  | { kind: 'value-at-most'; value: number };

export interface Row {
  scenario: string;
  /** The size actually run, e.g. "1,000 streams". */
  size: string;
  metric: string;
  unit: string;
  parley: number;
  floor: number;
  goal: Goal;
  /**
   * With `--runs N`: every run's figures. `parley` and `floor` above are then the medians, the
   * ratio shown is the median of the runs' ratios, and the spread is their min–max.
   */
  runs?: { parley: number[]; floor: number[]; ratios: number[] };
}

export interface ScenarioResult {
  rows: Row[];
  /** Latency samples (ms) for the chart, per side. */
  distributions?: Record<string, { parley: number[]; floor: number[] }>;
  details: Record<string, unknown>;
  /** Why the scenario did not run here (one line), e.g. no PostgreSQL to run against. */
  skipped?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Scenario names whose Parley process runs under --cpu-prof. */
  profile: Set<string>;
  profileDir: string;
  log(message: string): void;
}

export const fmt = (n: number): string => n.toLocaleString('en-US');
