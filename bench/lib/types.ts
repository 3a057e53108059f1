/** How a row's ratio (Parley ÷ floor) is judged. */
export type Goal =
  | { kind: 'at-least'; ratio: number }
  | { kind: 'at-most'; ratio: number }
  /** Both sides must be zero (errors). */
  | { kind: 'zero' }
  /** Reported, no goal. */
  | { kind: 'report' };

export interface Row {
  scenario: string;
  /** The size actually run, e.g. "1,000 streams". */
  size: string;
  metric: string;
  unit: string;
  parley: number;
  floor: number;
  goal: Goal;
}

export interface ScenarioResult {
  rows: Row[];
  /** Latency samples (ms) for the chart, per side. */
  distributions?: Record<string, { parley: number[]; floor: number[] }>;
  details: Record<string, unknown>;
}

export interface BenchContext {
  quick: boolean;
  /** Scenario names whose Parley process runs under --cpu-prof. */
  profile: Set<string>;
  profileDir: string;
  log(message: string): void;
}

export const fmt = (n: number): string => n.toLocaleString('en-US');
