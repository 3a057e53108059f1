import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { group, poll } from '../helpers/chat.ts';
import type { ApiResponse, TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { errorPaths, expectProblem } from '../helpers/problem.ts';
import { SseReader } from '../helpers/sse.ts';
import { blob, encryptedGroup, keyedDevice, newDevice, type TestDevice } from './mls.ts';

/** A new encrypted group of `owner` with `members`, set up at epoch 1 by the owner's first commit. */
async function encryptedGroupAtEpoch1(owner: TestUser, members: readonly TestUser[]): Promise<string> {
  const id = await encryptedGroup(owner, members);
  const first = await owner.api.post(`/conversations/${id}/commits`, {
    epoch: 0,
    commit: blob(),
    welcome: blob(),
    groupInfo: blob(),
    add: members.map((m) => m.id),
  });
  expect(first.status, first.text).to.equal(201);
  return id;
}

const epochOf = async (user: TestUser, id: string): Promise<number> =>
  (await user.api.get(`/conversations/${id}`)).body.conversation.epoch;

/** The events a user's long-poll returns after `cursor` (waiting a little if there are none yet). */
async function eventsAfter(user: TestUser, cursor: string, timeout = 0): Promise<any[]> {
  const res = await poll(user, { cursor, timeout });
  expect(res.status, res.text).to.equal(200);
  return res.body.events;
}

/**
 * The next `n` events of a user after `cursor`, polling on: on PostgreSQL a committed event may take
 * a moment to become readable (an older transaction still in flight holds it back).
 */
async function collect(user: TestUser, cursor: string, n: number): Promise<any[]> {
  const out: any[] = [];
  const deadline = Date.now() + 10_000;
  while (out.length < n && Date.now() < deadline) {
    const res = await poll(user, { cursor, timeout: 5 });
    expect(res.status, res.text).to.equal(200);
    out.push(...res.body.events);
    cursor = res.body.cursor;
  }
  return out;
}

/** "Now" for a user, consistent with everything committed so far (a poll's "now" may still lag on PostgreSQL). */
const cursorOf = async (user: TestUser): Promise<string> =>
  (await user.api.get('/conversations?limit=1')).body.eventCursor;

describe('POST /conversations/{id}/commits (MLS Delivery Service)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol', 'stranger'] });

  it('sets a group up: the first commit adds the members named at creation, who get the welcome', async () => {
    const { alice, bob, carol } = t.users;
    const bobPhone = await keyedDevice(t.url, bob, 2);
    const created = await alice.api.post('/conversations', {
      participantIds: [bob.id, carol.id],
      title: 'secret',
      encrypted: true,
    });
    const id = created.body.id;
    const bobStart = await cursorOf(bob);
    const welcome = blob(200);
    const groupInfo = blob(300);
    const commit = blob(100);
    const res = await alice.api.post(`/conversations/${id}/commits`, {
      epoch: 0,
      commit,
      welcome,
      groupInfo,
      add: [bob.id, carol.id],
    });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.deep.equal({ epoch: 1 });
    expect(await epochOf(bob, id)).to.equal(1);
    const info = await bob.api.get(`/conversations/${id}/group-info`);
    expect(info.status, info.text).to.equal(200);
    expect(info.body).to.deep.equal({ epoch: 1, groupInfo });

    const events = await collect(bob, bobStart, 2);
    expect(events.map((e) => e.type)).to.deep.equal(['mls.commit', 'mls.welcome']);
    expect(events[0].data).to.deep.equal({ conversationId: id, epoch: 0, commit, committedBy: alice.id });
    expect(events[1].data).to.deep.equal({
      conversationId: id,
      epoch: 1,
      welcome,
      deviceIds: [bobPhone.deviceId],
    });
  });

  it('answers group-info with null until a commit carries one, and 409 in a plain conversation', async () => {
    const { alice, bob, stranger } = t.users;
    const created = await alice.api.post('/conversations', {
      participantIds: [bob.id],
      title: 'x',
      encrypted: true,
    });
    const info = await bob.api.get(`/conversations/${created.body.id}/group-info`);
    expect(info.body).to.deep.equal({ epoch: 0, groupInfo: null });
    expectProblem(await stranger.api.get(`/conversations/${created.body.id}/group-info`), 404, 'not-found');
    const plain = await group(alice, [bob]);
    expectProblem(await alice.api.get(`/conversations/${plain}/group-info`), 409, 'not-encrypted');
  });

  it('accepts exactly one of ten concurrent commits at one epoch; the nine others get 409 with currentEpoch', async () => {
    const { alice, bob, carol } = t.users;
    const id = await encryptedGroupAtEpoch1(alice, [bob, carol]);
    const devices: TestDevice[] = [];
    for (const user of [alice, alice, alice, alice, bob, bob, bob, carol, carol, carol]) {
      devices.push(await newDevice(t.url, user));
    }
    const start = await cursorOf(carol);
    const results = await Promise.all(
      devices.map((d) => d.api.post(`/conversations/${id}/commits`, { epoch: 1, commit: blob() })),
    );
    const won = results.filter((r) => r.status === 201);
    const lost = results.filter((r) => r.status === 409);
    expect(won, results.map((r) => r.status).join(',')).to.have.length(1);
    expect(won[0]!.body).to.deep.equal({ epoch: 2 });
    expect(lost).to.have.length(9);
    for (const res of lost) {
      expectProblem(res, 409, 'epoch-mismatch');
      expect(res.body.currentEpoch).to.equal(2);
    }
    expect(await epochOf(alice, id)).to.equal(2);
    // One commit event, and the next thing after it is the next accepted commit (epoch 2).
    const sentinel = await alice.api.post(`/conversations/${id}/message`, { ciphertext: blob() });
    const seen = await collect(carol, start, 2);
    expect(seen.map((e) => [e.type, e.data.epoch ?? e.data.id])).to.deep.equal([
      ['mls.commit', 1],
      ['message.created', sentinel.body.id],
    ]);
    // The losers retry at the new epoch: again exactly one wins.
    const retried = await Promise.all(
      devices
        .slice(0, 3)
        .map((d) => d.api.post(`/conversations/${id}/commits`, { epoch: 2, commit: blob() })),
    );
    expect(retried.map((r) => r.status).sort()).to.deep.equal([201, 409, 409]);
  });

  it('refuses bad commits as documented and changes nothing', async () => {
    const { alice, bob, carol, stranger } = t.users;
    const id = await encryptedGroupAtEpoch1(alice, [bob, carol]);
    const other = await encryptedGroupAtEpoch1(bob, [carol]);
    const plain = await group(alice, [bob]);
    const start = await cursorOf(bob);
    const path = `/conversations/${id}/commits`;
    const ok = { epoch: 1, commit: blob() };
    const cases: [string, Promise<ApiResponse>, number, string, string?][] = [
      [
        'malformed base64',
        alice.api.post(path, { ...ok, commit: 'bm90*YmFzZTY0' }),
        400,
        'validation-failed',
        'commit',
      ],
      [
        'unpadded base64',
        alice.api.post(path, { ...ok, commit: 'QUJDRA' }),
        400,
        'validation-failed',
        'commit',
      ],
      [
        'oversized commit',
        alice.api.post(path, { ...ok, commit: randomBytes(256 * 1024 + 1).toString('base64') }),
        400,
        'validation-failed',
        'commit',
      ],
      ['negative epoch', alice.api.post(path, { ...ok, epoch: -1 }), 400, 'validation-failed', 'epoch'],
      ['unknown field', alice.api.post(path, { ...ok, members: [] }), 400, 'validation-failed'],
      [
        'welcome without add',
        alice.api.post(path, { ...ok, welcome: blob() }),
        400,
        'validation-failed',
        'add',
      ],
      [
        'add without welcome',
        alice.api.post(path, { ...ok, add: [stranger.id] }),
        400,
        'validation-failed',
        'welcome',
      ],
      [
        'unknown user added',
        alice.api.post(path, { ...ok, welcome: blob(), add: ['999999'] }),
        400,
        'validation-failed',
        'add',
      ],
      [
        'removing yourself',
        alice.api.post(path, { ...ok, remove: [alice.id] }),
        400,
        'validation-failed',
        'remove',
      ],
      [
        'a member adding',
        bob.api.post(path, { ...ok, welcome: blob(), add: [stranger.id] }),
        403,
        'forbidden',
      ],
      ['a member removing', bob.api.post(path, { ...ok, remove: [carol.id] }), 403, 'forbidden'],
      ['a non-member', stranger.api.post(path, ok), 404, 'not-found'],
      [
        'a conversation the caller is not in',
        alice.api.post(`/conversations/${other}/commits`, ok),
        404,
        'not-found',
      ],
      ['no such conversation', alice.api.post('/conversations/999999/commits', ok), 404, 'not-found'],
      ['a plain conversation', alice.api.post(`/conversations/${plain}/commits`, ok), 409, 'not-encrypted'],
      ['an epoch in the past', alice.api.post(path, { ...ok, epoch: 0 }), 409, 'epoch-mismatch'],
      ['an epoch in the future', alice.api.post(path, { ...ok, epoch: 2 }), 409, 'epoch-mismatch'],
      [
        'an epoch far in the future',
        alice.api.post(path, { ...ok, epoch: 2 ** 53 - 1 }),
        409,
        'epoch-mismatch',
      ],
    ];
    for (const [what, pending, status, slug, field] of cases) {
      const res = await pending;
      expect(res.status, `${what}: ${res.text}`).to.equal(status);
      expectProblem(res, status, slug);
      if (field) expect(errorPaths(res), what).to.include(field);
      if (slug === 'epoch-mismatch') expect(res.body.currentEpoch, what).to.equal(1);
    }
    const oversized = await alice.api.post(path, {
      ...ok,
      commit: randomBytes(2 * 1024 * 1024).toString('base64'),
    });
    expectProblem(oversized, 413, 'payload-too-large');
    // Nothing changed: the epoch, the members, the GroupInfo, and nobody heard of anything.
    expect(await epochOf(alice, id)).to.equal(1);
    const conversation = (await alice.api.get(`/conversations/${id}`)).body.conversation;
    expect(conversation.participants.map((p: any) => p.id)).to.have.members([alice.id, bob.id, carol.id]);
    expect((await alice.api.get(`/conversations/${id}/group-info`)).body.epoch).to.equal(1);
    expect(await eventsAfter(stranger, await cursorOf(stranger))).to.deep.equal([]);
    // And the right commit is still accepted at that epoch, as the first thing the members hear of.
    expect((await alice.api.post(path, ok)).status).to.equal(201);
    const heard = await collect(bob, start, 1);
    expect(heard.map((e) => [e.type, e.data.epoch, e.data.commit])).to.deep.equal([
      ['mls.commit', 1, ok.commit],
    ]);
  });

  it('delivers commits in the conversation’s order with its messages, the same on SSE and long-poll', async () => {
    const { alice, bob, carol } = t.users;
    const id = await encryptedGroupAtEpoch1(alice, [bob, carol]);
    const start = await cursorOf(carol);
    const stream = await SseReader.live(t.url, carol.token, { cursor: start });
    try {
      // Sends from two members racing commits: each commit retries at the epoch it is told.
      const sends = Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? alice : bob).api.post(`/conversations/${id}/message`, { ciphertext: blob(32) }),
      );
      const commits = (async () => {
        let epoch = 1;
        for (let accepted = 0; accepted < 5; ) {
          const res = await bob.api.post(`/conversations/${id}/commits`, { epoch, commit: blob() });
          if (res.status === 201) {
            accepted++;
            epoch = res.body.epoch;
          } else epoch = res.body.currentEpoch;
        }
      })();
      await Promise.all([...sends, commits]);
      const polled = await collect(carol, start, 25);
      expect(polled).to.have.length(25);
      const streamed: any[] = [];
      while (streamed.length < 25) streamed.push(await stream.nextEvent());
      const key = (e: any) => (e.type === 'mls.commit' ? `commit@${e.data.epoch}` : `message ${e.data.id}`);
      expect(streamed.map(key)).to.deep.equal(polled.map(key));
      // Commits in epoch order, and messages in id order around them: the log's order.
      const epochs = polled.filter((e) => e.type === 'mls.commit').map((e) => e.data.epoch);
      expect(epochs).to.deep.equal([1, 2, 3, 4, 5]);
      const ids = polled.filter((e) => e.type === 'message.created').map((e) => Number(e.data.id));
      expect(ids).to.deep.equal([...ids].sort((x, y) => x - y));
    } finally {
      stream.close();
    }
  });

  it('ends a removed member’s membership with the commit: they get it, then nothing more', async () => {
    const { alice, bob } = t.users;
    const erin = await t.signUp('erin');
    const id = await encryptedGroupAtEpoch1(alice, [bob, erin]);
    const start = await cursorOf(erin);
    const stream = await SseReader.live(t.url, erin.token, { cursor: start });
    try {
      const removal = await alice.api.post(`/conversations/${id}/commits`, {
        epoch: 1,
        commit: blob(),
        remove: [erin.id],
      });
      expect(removal.status, removal.text).to.equal(201);
      await alice.api.post(`/conversations/${id}/message`, { ciphertext: blob() });
      await alice.api.post(`/conversations/${id}/commits`, { epoch: 2, commit: blob() });
      const seen = await collect(erin, start, 2);
      expect(seen.map((e) => [e.type, e.data.userId ?? e.data.epoch])).to.deep.equal([
        ['mls.commit', 1],
        ['participant.removed', erin.id],
      ]);
      const streamed = await stream.events(2);
      expect(streamed.map((e) => e.type)).to.deep.equal(['mls.commit', 'participant.removed']);
      // Once bob has read the next message and commit, they are readable: erin would get them now.
      const bobSaw = await collect(bob, start, 4);
      expect(bobSaw.map((e) => e.type)).to.deep.equal([
        'mls.commit',
        'participant.removed',
        'message.created',
        'mls.commit',
      ]);
      expect(await eventsAfter(erin, seen.at(-1).id)).to.deep.equal([]);
      await stream.expectSilence(300);
      expectProblem(await erin.api.get(`/conversations/${id}`), 404, 'not-found');
      expectProblem(await erin.api.get(`/conversations/${id}/group-info`), 404, 'not-found');
      expectProblem(
        await erin.api.post(`/conversations/${id}/commits`, { epoch: 3, commit: blob() }),
        404,
        'not-found',
      );
      const left = (await bob.api.get(`/conversations/${id}`)).body.conversation;
      expect(left.participants.map((p: any) => p.id)).to.have.members([alice.id, bob.id]);
    } finally {
      stream.close();
    }
  });

  it('sets up an encrypted direct conversation by welcoming its other participant, and adds nobody else', async () => {
    const { alice, stranger } = t.users;
    const gus = await t.signUp('gus');
    const created = await alice.api.post('/conversations', { participantIds: [gus.id], encrypted: true });
    const id = created.body.id;
    const path = `/conversations/${id}/commits`;
    const third = await alice.api.post(path, {
      epoch: 0,
      commit: blob(),
      welcome: blob(),
      add: [stranger.id],
    });
    expectProblem(third, 400, 'not-a-group');
    expectProblem(
      await alice.api.post(path, { epoch: 0, commit: blob(), remove: [gus.id] }),
      400,
      'not-a-group',
    );
    const start = await cursorOf(gus);
    const first = await alice.api.post(path, { epoch: 0, commit: blob(), welcome: blob(), add: [gus.id] });
    expect(first.status, first.text).to.equal(201);
    const seen = await collect(gus, start, 2);
    expect(seen.map((e) => [e.type, e.data.epoch])).to.deep.equal([
      ['mls.commit', 0],
      ['mls.welcome', 1],
    ]);
    const members = (await alice.api.get(`/conversations/${id}`)).body.conversation.participants;
    expect(members.map((p: any) => p.id)).to.have.members([alice.id, gus.id]);
  });

  it('accepts the removal of a member who left, with no membership change', async () => {
    const { alice, bob } = t.users;
    const hal = await t.signUp('hal');
    const id = await encryptedGroupAtEpoch1(alice, [bob, hal]);
    expect((await hal.api.delete(`/conversations/${id}/participants/${hal.id}`)).status).to.equal(204);
    const start = await cursorOf(bob);
    const removal = await bob.api.post(`/conversations/${id}/commits`, {
      epoch: 1,
      commit: blob(),
      remove: [hal.id],
    });
    expect(removal.status, removal.text).to.equal(201);
    const seen = await collect(bob, start, 1);
    expect(seen.map((e) => e.type)).to.deep.equal(['mls.commit']);
    expect(await eventsAfter(bob, seen[0].id)).to.deep.equal([]);
  });

  it('adds a member with the commit: they get the conversation and the welcome, not the commit that added them', async () => {
    const { alice, bob } = t.users;
    const fay = await t.signUp('fay');
    const fayPhone = await keyedDevice(t.url, fay, 1);
    const id = await encryptedGroupAtEpoch1(alice, [bob]);
    const before = await alice.api.post(`/conversations/${id}/message`, { ciphertext: blob() });
    const start = await cursorOf(fay);
    // A stream open before fay is added: the hub must route her the events of a membership it did not know.
    const stream = await SseReader.live(t.url, fay.token, { cursor: start });
    const welcome = blob();
    const added = await alice.api.post(`/conversations/${id}/commits`, {
      epoch: 1,
      commit: blob(),
      welcome,
      add: [fay.id],
    });
    expect(added.status, added.text).to.equal(201);
    const after = await bob.api.post(`/conversations/${id}/message`, { ciphertext: blob() });
    const seen = await collect(fay, start, 3);
    expect(seen.map((e) => e.type)).to.deep.equal(['conversation.created', 'mls.welcome', 'message.created']);
    expect(seen[0].data).to.include({ id, encrypted: true, epoch: 2 });
    expect(seen[1].data).to.deep.equal({
      conversationId: id,
      epoch: 2,
      welcome,
      deviceIds: [fayPhone.deviceId],
    });
    expect(seen[2].data.id).to.equal(after.body.id);
    try {
      const streamed = await stream.events(3);
      expect(streamed.map((e) => e.id)).to.deep.equal(seen.map((e) => e.id));
    } finally {
      stream.close();
    }
    const history = await fay.api.get(`/conversations/${id}`);
    expect(history.body.messages.map((m: any) => m.id)).to.not.include(before.body.id);
    // The members heard of the newcomer after the commit.
    const bobSaw = await collect(bob, start, 3);
    expect(bobSaw.map((e) => e.type)).to.deep.equal(['mls.commit', 'participant.added', 'message.created']);
  });
});
