import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { describeOncePerRun } from '../helpers/postgres.ts';

const SCENARIOS = [
  'send',
  'fan-out',
  'streams',
  'long-poll',
  'history',
  'catch-up',
  'start',
  'one-to-one',
  'presence-storm',
  'push',
  'e2ee',
  'group-formation',
];
// Runs only where PostgreSQL answers; elsewhere it says why in one line under the table.
const NEEDS_POSTGRES = ['cluster'];

// The full bench is not part of CI; its --quick form is, so the harness cannot rot unnoticed.
describeOncePerRun('npm run bench -- --quick', () => {
  let out: string;
  let stdout = '';
  let stderr = '';
  let code: number | null;

  before(async function () {
    // Toy sizes, but 24 server processes plus load processes; slow on a busy machine (230 s with
    // a load average of 10 on 2 cores).
    this.timeout(600_000);
    out = mkdtempSync(join(tmpdir(), 'parley-bench-spec-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 590_000);
    [code] = await once(child, 'exit');
    clearTimeout(timer);
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  it('exits 0 when every scenario ran', () => {
    expect(code, stderr.slice(-4000)).to.equal(0);
  });

  it('prints a table with a row for every scenario, with Parley, floor, ratio and goal', () => {
    const lines = stdout.split('\n');
    expect(lines.find((l) => l.startsWith('scenario'))).to.match(/Parley\s+floor\s+ratio\s+goal\s+met\?/);
    for (const scenario of SCENARIOS) {
      expect(
        lines.some((l) => l.startsWith(`${scenario} `)),
        `no row for ${scenario}`,
      ).to.equal(true);
    }
    for (const scenario of NEEDS_POSTGRES) {
      expect(
        lines.some((l) => l.startsWith(`${scenario} `) || l.startsWith(`${scenario}: skipped — `)),
        `no row for ${scenario} and no reason it was skipped`,
      ).to.equal(true);
    }
  });

  it('writes the results file with machine facts and the latency chart', () => {
    const json = readdirSync(out).find((f) => f.endsWith('-quick.json'));
    expect(json).to.be.a('string');
    const results = JSON.parse(readFileSync(join(out, json!), 'utf8'));
    expect(results.quick).to.equal(true);
    expect(results.machine).to.include.keys('cpu', 'cores', 'node');
    expect(results.failures).to.deep.equal([]);
    expect(readFileSync(join(out, 'latest-quick.svg'), 'utf8')).to.match(
      /^<svg[\s\S]*polyline[\s\S]*<\/svg>/,
    );
  });
});
