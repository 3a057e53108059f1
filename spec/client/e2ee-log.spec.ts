import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import {
  createApi,
  type DecryptedMessage,
  E2eeDevice,
  memoryCursorStore,
  subscribe,
} from '../../client/src/index.ts';
import { freePort, untilHealthy } from '../helpers/child-server.ts';
import { signUp, type TestUser } from '../helpers/client.ts';
import { dropSchema, onPostgres, postgresUrl, schemaFor } from '../helpers/postgres.ts';
import { newDevice } from '../helpers/push.ts';
import { Timeline } from '../helpers/timeline.ts';

const SERVER_ENTRY = resolve(import.meta.dirname, '../../lib/server.ts');

describe('End-to-end encrypted conversations: the server log', function () {
  this.timeout(120_000);

  it('holds none of the plaintexts, at the debug level, from keys to the last message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-e2ee-log-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawn(process.execPath, ['--import', 'tsx', SERVER_ENTRY], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: onPostgres ? postgresUrl(schemaFor(dir)) : `sqlite:${join(dir, 'parley.db')}`,
        DATA_DIR: dir,
        SESSION_SECRET: randomBytes(24).toString('base64url'),
        LOG_LEVEL: 'trace',
        PRESENCE_ENABLED: 'false',
        REGISTRATIONS_PER_WINDOW: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const capture = (d: string) => {
      log += d;
    };
    server.stdout.setEncoding('utf8').on('data', capture);
    server.stderr.setEncoding('utf8').on('data', capture);
    const exited = once(server, 'exit');
    const subscriptions: ReturnType<typeof watched>[] = [];
    try {
      await untilHealthy(url, server, () => log);
      const [ann, ben] = await Promise.all([signUp(url, 'logann'), signUp(url, 'logben')]);
      const start = async (user: TestUser) => {
        const login = await newDevice(url, user, 'laptop');
        const api = createApi({ baseUrl: url, token: login.token });
        const messages = new Timeline<DecryptedMessage>();
        const device = await E2eeDevice.register({
          api,
          userId: user.id,
          deviceId: login.deviceId,
          onMessage: (m) => messages.push(m),
        });
        const { data } = await api.GET('/conversations', {});
        subscriptions.push(
          watched({
            api,
            cursorStore: memoryCursorStore((data as { eventCursor: string }).eventCursor),
            onEvent: (event) => device.handle(event),
          }),
        );
        return { device, messages };
      };
      const [a, b] = await Promise.all([start(ann), start(ben)]);
      const conversationId = await a.device.createConversation([ben.id]);
      await within(b.device.untilEpoch(conversationId, 1), 30_000, 'ben joins the group', subscriptions[1]!);
      const plaintexts = [
        `the vault code is ${randomBytes(6).toString('hex')}`,
        `meet at ${randomBytes(6).toString('hex')}`,
      ];
      await a.device.send(conversationId, plaintexts[0]!);
      await b.device.send(conversationId, plaintexts[1]!);
      await b.messages.until((ms) => ms.some((m) => m.text === plaintexts[0]), 'ben reads ann');
      await a.messages.until((ms) => ms.some((m) => m.text === plaintexts[1]), 'ann reads ben');
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      server.kill('SIGTERM');
      await stopped(server, exited);
      expect(log, 'the server logged its requests').to.include(`/conversations/${conversationId}/message`);
      for (const text of plaintexts) expect(log.includes(text), `the log holds "${text}"`).to.equal(false);
    } finally {
      await Promise.all(subscriptions.map((s) => s.close()));
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await stopped(server, exited);
      }
      if (onPostgres) await dropSchema(schemaFor(dir));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A subscription that remembers the error that stopped it, for a failure message. */
function watched(options: Parameters<typeof subscribe>[0]) {
  const subscription = subscribe(options);
  const state = { close: () => subscription.close(), stoppedBy: undefined as unknown };
  subscription.done.catch((err) => {
    state.stoppedBy = err;
  });
  return state;
}

/** `promise`, or a failure naming `what` (and why the subscription stopped, if it did) after `ms`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  sub: { stoppedBy: unknown },
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`timed out waiting for ${what} (subscription stopped by ${sub.stoppedBy ?? 'nothing'})`),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for a SIGTERMed server to exit; one that has not within 10 s is killed. */
async function stopped(server: ReturnType<typeof spawn>, exited: Promise<unknown>): Promise<void> {
  const kill = setTimeout(() => server.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}
