import { expect } from 'chai';
import { insertUsers } from '../helpers/bulk-users.ts';
import { poll, send } from '../helpers/chat.ts';
import { signUp, type TestUser } from '../helpers/client.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { SseReader } from '../helpers/sse.ts';

// Short windows keep the suite fast: a poll keeps its user online 600 ms, a closed stream 300 ms.
const WINDOW_MS = 600;
const GRACE_MS = 300;
// Presence travels through conversations of at most this many members (default 100).
const GROUP_LIMIT = 3;

describe('presence', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      PRESENCE_ENABLED: 'true',
      PRESENCE_WINDOW_MS: String(WINDOW_MS),
      PRESENCE_GRACE_MS: String(GRACE_MS),
      PRESENCE_GROUP_LIMIT: String(GROUP_LIMIT),
    });
  });
  after(() => server.close());

  /** A watcher and a subject who share a conversation, with the watcher's stream open. */
  const pair = async () => {
    const [watcher, subject] = (await Promise.all([
      signUp(server.url, 'watch'),
      signUp(server.url, 'subj'),
    ])) as [TestUser, TestUser];
    const conv = await watcher.api.post('/conversations', { participantIds: [subject.id] });
    const stream = await SseReader.live(server.url, watcher.token);
    // The watcher's own stream makes the watcher online: that is for their contacts, not for them.
    return { watcher, subject, conversationId: conv.body.id as string, stream };
  };
  const presenceOf = (stream: SseReader, userId: string, waitMs = 5000) =>
    stream
      .nextFrame((f) => f.event === 'presence.updated' && JSON.parse(f.data!).data.userId === userId, waitMs)
      .then((f) => JSON.parse(f.data!));

  it('goes online with the first stream, and User objects show it', async () => {
    const { watcher, subject, stream } = await pair();
    const before = (await watcher.api.get(`/users/${subject.id}`)).body;
    expect(before).to.include({ presence: 'offline', lastSeenAt: null });
    const subjectStream = await SseReader.live(server.url, subject.token);
    try {
      const event = await presenceOf(stream, subject.id);
      // Logged (for a while) with a cursor, so a client between two polls gets it too (issue 12 item 20).
      expect(event.id).to.be.a('string');
      expect(event.data.presence).to.equal('online');
      expect(event.data.lastSeenAt).to.be.a('string');
      expect((await watcher.api.get(`/users/${subject.id}`)).body.presence).to.equal('online');
    } finally {
      subjectStream.close();
      stream.close();
    }
  });

  it('stays online across a quick reconnect, then goes offline after the grace period', async () => {
    const { watcher, subject, stream } = await pair();
    try {
      const first = await SseReader.live(server.url, subject.token);
      expect((await presenceOf(stream, subject.id)).data.presence).to.equal('online');
      first.close();
      await first.closed;
      const second = await SseReader.live(server.url, subject.token);
      // Past the grace period with the second stream open: no transition may come.
      await stream.expectSilence(GRACE_MS + 200);
      const closedAt = Date.now();
      second.close();
      const offline = await presenceOf(stream, subject.id);
      expect(offline.data.presence).to.equal('offline');
      expect(Date.now() - closedAt).to.be.at.least(GRACE_MS - 50);
      expect(Date.parse(offline.data.lastSeenAt)).to.be.at.least(closedAt - 1000);
      const user = (await watcher.api.get(`/users/${subject.id}`)).body;
      expect(user).to.include({ presence: 'offline', lastSeenAt: offline.data.lastSeenAt });
    } finally {
      stream.close();
    }
  });

  it('counts a poll as online for the window after it, then goes offline', async () => {
    const { watcher, subject, stream } = await pair();
    try {
      const polled = await subject.api.get('/events/poll?timeout=0');
      expect(polled.status).to.equal(200);
      const polledAt = Date.now();
      expect((await presenceOf(stream, subject.id)).data.presence).to.equal('online');
      const offline = await presenceOf(stream, subject.id);
      expect(offline.data.presence).to.equal('offline');
      expect(Date.now() - polledAt).to.be.at.least(WINDOW_MS - 100);
      expect((await watcher.api.get(`/users/${subject.id}`)).body.presence).to.equal('offline');
    } finally {
      stream.close();
    }
  });

  it('lets a first poll from now hear its own user go online, as a first stream does', async () => {
    // Fixed before the poll goes online, its starting point is before the transition: the next
    // poll brings it. Announced first, the transition could commit before that read and be lost.
    const check = async (subject: TestUser, timeout: number) => {
      const first = await poll(subject, { timeout });
      expect(first.status).to.equal(200);
      const seen: { type: string; data: { userId: string; presence: string } }[] = [...first.body.events];
      if (!seen.some((e) => e.type === 'presence.updated')) {
        seen.push(...(await poll(subject, { cursor: first.body.cursor, timeout: 2 })).body.events);
      }
      const own = seen.filter((e) => e.type === 'presence.updated' && e.data.userId === subject.id);
      expect(
        own.map((e) => e.data.presence),
        `${subject.username}, timeout ${timeout}`,
      ).to.deep.equal(['online']);
    };
    // Ten first polls at once, half waiting: alone, the race rarely shows (PostgreSQL lost it here).
    const subjects: TestUser[] = [];
    for (let i = 0; i < 10; i++) subjects.push(await signUp(server.url, `self${i}`));
    await Promise.all(subjects.map((subject, i) => check(subject, i % 2 ? 5 : 0)));
  });

  it('keeps a user online while any of their devices is connected', async () => {
    const { subject, stream } = await pair();
    try {
      const phone = await SseReader.live(server.url, subject.token);
      const laptop = await SseReader.live(server.url, subject.token);
      expect((await presenceOf(stream, subject.id)).data.presence).to.equal('online');
      phone.close();
      await phone.closed;
      await stream.expectSilence(GRACE_MS + 200);
      laptop.close();
      expect((await presenceOf(stream, subject.id)).data.presence).to.equal('offline');
    } finally {
      stream.close();
    }
  });

  it('is announced only through conversations of at most PRESENCE_GROUP_LIMIT members; larger groups read it from the participants page', async () => {
    const [watcher, subject] = (await Promise.all([
      signUp(server.url, 'bigw'),
      signUp(server.url, 'bigs'),
    ])) as [TestUser, TestUser];
    const [extra1, extra2] = await insertUsers(server, 2);
    // Four members: one more than the limit, and the only conversation the two share.
    const created = await watcher.api.post('/conversations', {
      participantIds: [subject.id, extra1, extra2],
      title: 'more than the limit',
    });
    const groupId = created.body.id as string;
    const stream = await SseReader.live(server.url, watcher.token);
    await presenceOf(stream, watcher.id); // the watcher's own
    const before = (await poll(watcher, { timeout: 0 })).body.cursor as string;
    const subjectStream = await SseReader.live(server.url, subject.token);
    try {
      // The subject hears their own transition; then a message marks a point after it in the log.
      expect((await presenceOf(subjectStream, subject.id)).data.presence).to.equal('online');
      const marker = await send(subject, groupId, 'after going online');
      // Neither the watcher's stream nor a poll from before carries the transition: the message comes first.
      const next = await stream.nextEvent();
      expect([next.type, next.data.id]).to.deep.equal(['message.created', marker.id]);
      const polled = (await poll(watcher, { cursor: before, timeout: 0 })).body.events;
      expect(polled.map((e: { type: string }) => e.type)).to.deep.equal(['message.created']);
      // On demand: the participants page shows who is online.
      const page = (await watcher.api.get(`/conversations/${groupId}/participants`)).body.participants;
      const shown = page.find((p: { id: string }) => p.id === subject.id);
      expect(shown).to.include({ presence: 'online' });
      expect(shown.lastSeenAt).to.be.a('string');
      expect(page.find((p: { id: string }) => p.id === extra1)).to.include({
        presence: 'offline',
        lastSeenAt: null,
      });

      // One member leaves: the group is small enough now, and the subject's next transition reaches the watcher.
      const removed = await watcher.api.delete(`/conversations/${groupId}/participants/${extra1}`);
      expect(removed.status).to.equal(204);
      subjectStream.close();
      expect((await presenceOf(stream, subject.id)).data.presence).to.equal('offline');
    } finally {
      subjectStream.close();
      stream.close();
    }
  });
});
