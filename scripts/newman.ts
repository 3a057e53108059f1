/**
 * npm run newman: starts Parley in-process on a temporary SQLite database (port 0), fetches its
 * GET /postman.json, runs that collection with newman, and stops the server; exits 1 on a failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { startParley } from '../lib/server.ts';

// newman ships no types: the little of its API used here.
interface RunSummary {
  run: { failures: unknown[]; stats: { requests: { total: number } } };
}
const newman = createRequire(import.meta.url)('newman') as {
  run(options: object, done: (err: Error | null, summary: RunSummary) => void): void;
};

// The metrics request runs with this token (the collection's `metricsToken`, given as an environment value).
const METRICS_TOKEN = randomBytes(16).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'parley-newman-'));
const parley = await startParley(
  loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'parley.db')}`,
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    METRICS_TOKEN: METRICS_TOKEN,
  }),
);
let failed = true;
try {
  const collection = await (await fetch(`${parley.url}/postman.json`)).json();
  const summary = await new Promise<RunSummary>((resolve, reject) =>
    newman.run(
      { collection, envVar: [{ key: 'metricsToken', value: METRICS_TOKEN }], reporters: ['cli'] },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  failed = summary.run.failures.length > 0 || summary.run.stats.requests.total === 0;
} finally {
  await parley.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
