import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';

const SCENARIOS = ['send', 'fan-out', 'streams', 'long-poll', 'history', 'catch-up', 'start'];

// The full bench is not part of CI; its --quick form is, so the harness cannot rot unnoticed.
describe('npm run bench -- --quick', () => {
  let out: string;
  let stdout = '';
  let stderr = '';
  let code: number | null;

  before(async function () {
    // Toy sizes, but 14 server processes plus load processes; slow on a busy machine.
    this.timeout(300_000);
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
    const timer = setTimeout(() => child.kill('SIGKILL'), 290_000);
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
