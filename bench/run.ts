import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/procs.ts';
import { combineRuns, latencySvg, markdownTable, ratioOf, textTable, verdict } from './lib/report.ts';
import { removeDbs } from './lib/seed.ts';
import { percentiles, round } from './lib/stats.ts';
import type { BenchContext, Row, ScenarioResult } from './lib/types.ts';
import { catchUp } from './scenarios/catch-up.ts';
import { cluster } from './scenarios/cluster.ts';
import { e2ee } from './scenarios/e2ee.ts';
import { fanOut } from './scenarios/fan-out.ts';
import { groupFormation } from './scenarios/group-formation.ts';
import { history } from './scenarios/history.ts';
import { longPoll } from './scenarios/long-poll.ts';
import { oneToOne } from './scenarios/one-to-one.ts';
import { presenceStorm } from './scenarios/presence-storm.ts';
import { push } from './scenarios/push.ts';
import { send } from './scenarios/send.ts';
import { start } from './scenarios/start.ts';
import { streams } from './scenarios/streams.ts';

/**
 * `npm run bench [-- --quick] [--only send,fan-out] [--runs 5] [--profile send] [--out dir]`
 *
 * Every scenario runs Parley and its floor in separate processes, one after the other, driven by
 * separate load processes; the table compares them from the same run. Goals are reported, not
 * asserted: the exit code says whether the harness worked. `--runs N` runs the whole selection N
 * times over (every scenario once, then again, so a slow spell of the machine touches them alike)
 * and reports per row the medians, the median ratio and the ratios' min–max.
 */
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  send,
  'fan-out': fanOut,
  streams,
  'long-poll': longPoll,
  history,
  'catch-up': catchUp,
  start,
  'one-to-one': oneToOne,
  'presence-storm': presenceStorm,
  'group-formation': groupFormation,
  cluster,
  push,
  e2ee,
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    runs: { type: 'string', default: '1' },
  },
});
const quick = values.quick ?? false;
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs wants a whole number ≥ 1, not ${values.runs}`);
const names = values.only ? values.only.split(',') : Object.keys(SCENARIOS);
for (const n of names)
  if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n}; know ${Object.keys(SCENARIOS).join(', ')}`);
const outDir = values.out ?? join(ROOT, 'bench', 'results');
const profileDir = join(outDir, 'profiles');
mkdirSync(outDir, { recursive: true });
if (values.profile) mkdirSync(profileDir, { recursive: true });

const startedAt = new Date();
const ctx: BenchContext = {
  quick,
  profile: new Set(values.profile ? values.profile.split(',') : []),
  profileDir,
  log: (m) =>
    process.stderr.write(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)}s] ${m}\n`),
};
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: round(totalmem() / 2 ** 30, 1),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadAverageAtStart: loadavg().map((l) => round(l, 2)),
};
ctx.log(`${quick ? 'quick' : 'full'} run on ${machine.cpu} × ${machine.cores}, Node ${machine.node}`);

/** Each run's rows; the table combines them (one run: its rows as they are). */
const runRows: Row[][] = [];
const combined = (): Row[] => (runs === 1 ? (runRows[0] ?? []) : combineRuns(runRows));
const details: Record<string, unknown> = {};
const distributions: NonNullable<ScenarioResult['distributions']> = {};
// The latency chart's panel titles, by distribution; any other is titled by its own name.
const PANEL_TITLES: Record<string, string> = {
  'fan-out': 'fan-out: send → receive over SSE',
  'long-poll': 'long-poll: send → wake',
};
const failures: string[] = [];
/** Scenarios that could not run here, with the reason (one line each). */
const skipped: Record<string, string> = {};
const stamp = startedAt
  .toISOString()
  .replace(/[:]/g, '-')
  .replace(/\.\d+Z$/, 'Z');
const file = join(outDir, `${stamp}${quick ? '-quick' : ''}.json`);

/** Written after every scenario, so a run cut short still leaves what it measured. */
function writeResults(done: string[]): void {
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        quick,
        machine,
        scenarios: done,
        runs,
        failures,
        skipped,
        rows: combined().map((r) => ({ ...r, ratio: ratioOf(r), met: verdict(r) })),
        // Latency distributions at every whole percentile (ms).
        distributions: Object.fromEntries(
          Object.entries(distributions).map(([k, d]) => [
            k,
            { parley: percentiles(d.parley), floor: percentiles(d.floor) },
          ]),
        ),
        details,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(outDir, `${stamp}${quick ? '-quick' : ''}.md`), `${markdownTable(combined())}\n`);
  const panels = Object.entries(distributions).map(([k, d]) => ({ title: PANEL_TITLES[k] ?? k, ...d }));
  if (panels.length) {
    const subtitle = `${startedAt.toISOString().slice(0, 16)}Z${quick ? ' (quick, toy sizes)' : ''} · ${machine.cpu} × ${machine.cores} · Node ${machine.node}`;
    writeFileSync(join(outDir, quick ? 'latest-quick.svg' : 'latest.svg'), latencySvg(panels, subtitle));
  }
}

const done: string[] = [];
for (let run = 1; run <= runs; run++) {
  const rows: Row[] = [];
  runRows.push(rows);
  for (const name of names) {
    const t0 = Date.now();
    const label = runs === 1 ? name : `${name} (run ${run} of ${runs})`;
    ctx.log(`${label}…`);
    try {
      const result = await SCENARIOS[name]!(ctx);
      if (result.skipped) {
        skipped[name] = result.skipped;
        ctx.log(`${name} skipped: ${result.skipped}`);
      }
      rows.push(...result.rows);
      // The chart shows the last run's distributions.
      Object.assign(distributions, result.distributions ?? {});
      details[label] = { ...result.details, seconds: (Date.now() - t0) / 1000 };
    } catch (err) {
      failures.push(label);
      ctx.log(`${label} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      details[label] = { error: String(err) };
    } finally {
      removeDbs();
    }
    done.push(label);
    writeResults(done);
    ctx.log(`${label} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}

process.stdout.write(`\n${textTable(combined())}\n\n`);
for (const [name, reason] of Object.entries(skipped)) process.stdout.write(`${name}: skipped — ${reason}\n`);
ctx.log(`results in ${file}`);
if (failures.length) {
  ctx.log(`scenarios that failed to run: ${failures.join(', ')}`);
  process.exitCode = 1;
}
