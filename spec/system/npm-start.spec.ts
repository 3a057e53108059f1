import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import packageJson from '../../package.json' with { type: 'json' };
import { freePort, untilHealthy } from '../helpers/child-server.ts';
import { Api, signUp } from '../helpers/client.ts';
import { describeOncePerRun } from '../helpers/postgres.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describeOncePerRun('npm start', function () {
  this.timeout(120_000);

  it('serves, logs its URL, database and version, keeps tickets out of its log, and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-npm-start-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dbFile = join(dir, 'parley.db');
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${dbFile}`,
        DATA_DIR: dir,
        SESSION_SECRET: randomBytes(24).toString('base64url'),
        LOG_LEVEL: 'info',
        PRESENCE_ENABLED: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await untilHealthy(url, npm, () => out);
      const index = await new Api(url).get('/');
      expect(index.status).to.equal(200);
      expect(index.body).to.include({ docs: '/docs', version: packageJson.version });

      const user = await signUp(url, 'npmstart');
      const { ticket } = (await user.api.post('/events/ticket')).body;
      const stream = await fetch(`${url}/events?ticket=${ticket}&cursor=0`, {
        headers: { Accept: 'text/event-stream' },
      });
      expect(stream.status).to.equal(200);
      await stream.body?.cancel();
      const used = await fetch(`${url}/events?ticket=${ticket}`);
      expect(used.status).to.equal(401);
      const requestId = used.headers.get('x-request-id');
      await used.text();

      npm.kill('SIGTERM');
      const [code] = await exited;
      expect(code, out).to.equal(0);
      // The server itself is gone, not only npm.
      expect(
        await fetch(`${url}/health`).then(
          () => 'answered',
          () => 'gone',
        ),
      ).to.equal('gone');
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      const startup = lines.find((l) => /listening on/.test(l.msg));
      expect(startup?.msg)
        .to.include(`http://127.0.0.1:${port}`)
        .and.include(dbFile)
        .and.include(packageJson.version);
      // The request's summary line, with the id its answer carried.
      expect(
        lines.some(
          (l) => l.msg === 'request' && l.path === '/events' && l.status === 401 && l.reqId === requestId,
        ),
      ).to.equal(true);
      expect(out).not.to.include(ticket);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeOncePerRun('parley --help and --version', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'lib/cli.js'), ...args], { encoding: 'utf8' });

  it('prints the version', () => {
    const run = cli('--version');
    expect(run.status).to.equal(0);
    expect(run.stdout.trim()).to.equal(packageJson.version);
  });

  it('lists the commands and every setting with its default', () => {
    const run = cli('--help');
    expect(run.status).to.equal(0);
    expect(run.stdout)
      .to.match(/serve/)
      .and.match(/migrate/);
    expect(run.stdout).to.match(/^ {2}PORT +3000$/m);
    expect(run.stdout).to.match(/^ {2}COOKIE_SAMESITE +lax {2}\[lax\|strict\|none\]$/m);
    expect(run.stdout).to.match(/^ {2}METRICS_TOKEN +\(unset\)$/m);
  });
});
