import { expect } from 'chai';
import { direct, poll } from '../helpers/chat.ts';
import { useTwoNodes } from '../helpers/child-server.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/postgres.ts';
import { SseReader } from '../helpers/sse.ts';

// Short windows keep the spec fast: a closed stream keeps its user online 300 ms.
const PRESENCE = { PRESENCE_ENABLED: 'true', PRESENCE_WINDOW_MS: '600', PRESENCE_GRACE_MS: '300' };

/** Waits (bounded) until `check` holds, checking again as soon as the last check answered. */
async function until(check: () => Promise<boolean>, what: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * The watcher polls once, then — while it is between polls — the subject comes online on
 * `subjectUrl` and goes offline again. The watcher's next poll must bring both transitions, once.
 */
async function transitionsBetweenPolls(watcher: TestUser, subject: TestUser, subjectUrl: string) {
  await direct(watcher, subject);
  const first = await poll(watcher, { timeout: 0 });
  expect(first.status).to.equal(200);
  const stream = await SseReader.live(subjectUrl, subject.token);
  await until(
    async () => (await watcher.api.get(`/users/${subject.id}`)).body.presence === 'online',
    'the subject online',
  );
  stream.close();
  await until(
    async () => (await watcher.api.get(`/users/${subject.id}`)).body.presence === 'offline',
    'the subject offline',
  );
  const ofSubject = (events: any[]) =>
    events.filter((e) => e.type === 'presence.updated' && e.data.userId === subject.id);
  const seen: any[] = [];
  let cursor = first.body.cursor;
  // Both transitions are committed (the user row says offline): polls from here return them at once.
  for (let tries = 0; tries < 10 && ofSubject(seen).length < 2; tries++) {
    const res = await poll(watcher, { cursor, timeout: 0 });
    expect(res.status, res.text).to.equal(200);
    seen.push(...res.body.events);
    cursor = res.body.cursor;
  }
  expect(ofSubject(seen).map((e) => e.data.presence)).to.deep.equal(['online', 'offline']);
  // Once: the next poll from the cursor it got does not bring them again.
  const again = await poll(watcher, { cursor, timeout: 0 });
  expect(ofSubject(again.body.events)).to.deep.equal([]);
}

describe('presence between two long-polls (issue 12, item 20)', () => {
  const t = useServer({ users: ['watcher', 'subject'], env: PRESENCE });

  it('brings every transition that happened between polls, once', async () => {
    const { watcher, subject } = t.users;
    await transitionsBetweenPolls(watcher, subject, t.url);
  });

  it('does not bring the transitions of someone who shares no conversation', async () => {
    const { watcher } = t.users;
    const stranger = await t.signUp('stranger');
    const first = await poll(watcher, { timeout: 0 });
    const stream = await SseReader.live(t.url, stranger.token);
    stream.close();
    await until(
      async () => (await stranger.api.get(`/users/${stranger.id}`)).body.presence === 'offline',
      'the stranger offline',
    );
    const res = await poll(watcher, { cursor: first.body.cursor, timeout: 0 });
    expect(res.body.events.filter((e: any) => e.data?.userId === stranger.id)).to.deep.equal([]);
  });
});

if (onPostgres) {
  describe('presence between two long-polls on two nodes (issue 12, item 20)', function () {
    this.timeout(60_000);
    const { a, b } = useTwoNodes('parley_presence', { DELIVERY_FLUSH_MS: '0', ...PRESENCE });

    it('brings a poller on node A the transitions of a user connected to node B, once', async () => {
      const watcher = await signUp(a.url, 'watcher');
      const subject = await signUp(b.url, 'subject');
      // The subject's login said nothing about presence; the watcher polls node A only.
      await transitionsBetweenPolls(watcher, { ...subject, api: new Api(b.url, subject.token) }, b.url);
    });
  });
}
