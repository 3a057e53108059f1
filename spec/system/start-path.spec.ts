import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { describeOncePerRun } from '../helpers/postgres.ts';

const REPO = resolve(import.meta.dirname, '../..');

/** Resolves with the first stdout line matching `pattern`, or rejects when the process exits first. */
function firstLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((done, fail) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line) done(line);
    });
    child.once('exit', (code) => fail(new Error(`exited with ${code} before serving; output: ${seen}`)));
  });
}

describeOncePerRun('npm start from a checkout whose path has a space (issue 12, item 21)', function () {
  this.timeout(30_000);
  let dir: string;
  let child: ChildProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley start path '));
    symlinkSync(REPO, join(dir, 'the checkout'));
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves', async () => {
    const checkout = join(dir, 'the checkout');
    child = spawn(process.execPath, ['--import', 'tsx', join(checkout, 'lib/server.ts')], {
      cwd: checkout,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'parley.db')}`,
        DATA_DIR: dir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await firstLine(child, /Parley .*listening/);
    const { port } = JSON.parse(line);
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).to.equal(200);
  });
});
