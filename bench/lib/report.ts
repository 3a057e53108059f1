import { median, percentile, percentiles, round } from './stats.ts';
import type { Goal, Row } from './types.ts';

const singleRatio = (parley: number, floor: number): number => (floor === 0 ? Number.NaN : parley / floor);

export const ratioOf = (r: Row): number => {
  if (!r.runs) return singleRatio(r.parley, r.floor);
  const finite = r.runs.ratios.filter(Number.isFinite);
  return finite.length ? median(finite) : Number.NaN;
};

/**
 * Several runs' rows as one row each: medians of Parley's and the floor's figures (for a row that
 * must be zero, the largest, so one bad run shows), the runs kept for the median ratio and spread.
 * Rows are matched by scenario and position: a row's size or metric may name a figure of its run
 * (the rate both sides held), and the last run's wording is kept.
 */
export function combineRuns(runs: Row[][]): Row[] {
  const byKey = new Map<string, Row[]>();
  for (const rows of runs) {
    const seen = new Map<string, number>();
    for (const r of rows) {
      const i = seen.get(r.scenario) ?? 0;
      seen.set(r.scenario, i + 1);
      const key = `${r.scenario}#${i}`;
      byKey.set(key, [...(byKey.get(key) ?? []), r]);
    }
  }
  return [...byKey.values()].map((list) => {
    const last = list.at(-1)!;
    const parley = list.map((r) => r.parley);
    const floor = list.map((r) => r.floor);
    const pick = last.goal.kind === 'zero' ? (v: number[]) => Math.max(...v) : median;
    return {
      ...last,
      parley: pick(parley),
      floor: pick(floor),
      runs: { parley, floor, ratios: list.map((r) => singleRatio(r.parley, r.floor)) },
    };
  });
}

/** The min–max of a combined row across its runs: of the ratio, or of Parley's figure where that is judged. */
export function spreadText(r: Row): string {
  if (!r.runs) return '';
  const range = (v: number[], unit: string) => {
    const finite = v.filter(Number.isFinite);
    if (!finite.length) return 'n/a';
    return `${num(Math.min(...finite))}–${num(Math.max(...finite))}${unit} (${v.length})`;
  };
  if (r.goal.kind === 'value-at-least' || r.goal.kind === 'value-at-most') return range(r.runs.parley, '');
  if (r.goal.kind === 'zero')
    return range(
      r.runs.parley.map((p, i) => p + r.runs!.floor[i]!),
      '',
    );
  return range(r.runs.ratios, '×');
}

export function verdict(r: Row): string {
  const ratio = ratioOf(r);
  // A floor of zero or less (memory noise at toy sizes) gives no meaningful ratio.
  if (r.goal.kind === 'value-at-least') return r.parley >= r.goal.value ? 'yes' : 'NO';
  if (r.goal.kind === 'value-at-most') return r.parley <= r.goal.value ? 'yes' : 'NO';
  if (r.goal.kind !== 'zero' && r.goal.kind !== 'report' && !(ratio > 0 && Number.isFinite(ratio)))
    return 'n/a';
  switch (r.goal.kind) {
    case 'at-least':
      return ratio >= r.goal.ratio ? 'yes' : 'NO';
    case 'at-most':
      return ratio <= r.goal.ratio ? 'yes' : 'NO';
    case 'zero':
      return r.parley === 0 && r.floor === 0 ? 'yes' : 'NO';
    case 'report':
      return '—';
  }
}

export function goalText(g: Goal): string {
  switch (g.kind) {
    case 'at-least':
      return `≥ ${g.ratio}×`;
    case 'at-most':
      return `≤ ${g.ratio}×`;
    case 'zero':
      return '0';
    case 'report':
      return 'reported';
    case 'value-at-least':
      return `Parley ≥ ${num(g.value)}`;
    case 'value-at-most':
      return `Parley ≤ ${num(g.value)}`;
  }
}

const num = (n: number): string => {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
};

const hasRuns = (rows: Row[]) => rows.some((r) => r.runs && r.runs.ratios.length > 1);

export function tableRows(rows: Row[]): string[][] {
  const spread = hasRuns(rows);
  return rows.map((r) => [
    r.scenario,
    r.size,
    `${r.metric} (${r.unit})`,
    num(r.parley),
    num(r.floor),
    r.goal.kind === 'zero' ? '—' : Number.isFinite(ratioOf(r)) ? `${num(ratioOf(r))}×` : 'n/a',
    goalText(r.goal),
    verdict(r),
    ...(spread ? [spreadText(r)] : []),
  ]);
}

export const HEADER = ['scenario', 'size', 'metric', 'Parley', 'floor', 'ratio', 'goal', 'met?'];
/** With several runs: Parley and floor are medians, the ratio the median ratio; then its min–max. */
const headerOf = (rows: Row[]) => (hasRuns(rows) ? [...HEADER, 'spread: min–max (runs)'] : HEADER);

/** A plain-text table for the terminal. */
export function textTable(rows: Row[]): string {
  const header = headerOf(rows);
  const body = [header, ...tableRows(rows)];
  const widths = header.map((_, i) => Math.max(...body.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...tableRows(rows).map(line)].join('\n');
}

/** The same table in Markdown, for the README. */
export function markdownTable(rows: Row[]): string {
  const header = headerOf(rows);
  const md = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [md(header), md(header.map(() => '---')), ...tableRows(rows).map(md)].join('\n');
}

const COLORS = { parley: '#d9480f', floor: '#1971c2' };

/**
 * Hand-made SVG: one panel per distribution, latency (x, ms) against the share of deliveries that
 * arrived by then (y), Parley and floor on the same axes.
 */
export function latencySvg(
  panels: { title: string; parley: number[]; floor: number[] }[],
  subtitle: string,
): string {
  const W = 460;
  const H = 300;
  const pad = { l: 52, r: 16, t: 40, b: 44 };
  const out: string[] = [];
  const total = W * Math.max(1, panels.length);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${H + 24}" viewBox="0 0 ${total} ${H + 24}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${total / 2}" y="${H + 16}" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  panels.forEach((panel, i) => {
    const x0 = i * W + pad.l;
    const x1 = (i + 1) * W - pad.r;
    const y0 = H - pad.b;
    const y1 = pad.t;
    const max = Math.max(percentile(panel.parley, 100) || 0, percentile(panel.floor, 100) || 0, 1);
    const sx = (ms: number) => x0 + (ms / max) * (x1 - x0);
    const sy = (p: number) => y0 - (p / 100) * (y0 - y1);
    out.push(
      `<text x="${(x0 + x1) / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    out.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/>`);
    out.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333"/>`);
    for (let k = 0; k <= 4; k++) {
      const ms = (max * k) / 4;
      out.push(`<text x="${sx(ms)}" y="${y0 + 16}" text-anchor="middle">${round(ms, 1)}</text>`);
      const p = k * 25;
      out.push(`<text x="${x0 - 6}" y="${sy(p) + 4}" text-anchor="end">${p}%</text>`);
      out.push(`<line x1="${x0}" y1="${sy(p)}" x2="${x1}" y2="${sy(p)}" stroke="#eee"/>`);
    }
    out.push(
      `<text x="${(x0 + x1) / 2}" y="${y0 + 34}" text-anchor="middle" fill="#555">latency, ms (share delivered by then)</text>`,
    );
    for (const side of ['floor', 'parley'] as const) {
      const dist = percentiles(panel[side]);
      const points = dist
        .map((ms, p) => (Number.isFinite(ms) ? `${sx(ms).toFixed(1)},${sy(p).toFixed(1)}` : null))
        .filter(Boolean)
        .join(' ');
      out.push(`<polyline fill="none" stroke="${COLORS[side]}" stroke-width="2" points="${points}"/>`);
      const p99 = percentile(panel[side], 99);
      out.push(
        `<text x="${x1 - 4}" y="${y0 - (side === 'parley' ? 30 : 14)}" text-anchor="end" fill="${COLORS[side]}">${side === 'parley' ? 'Parley' : 'floor'} p99 ${round(p99, 1)} ms</text>`,
      );
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
