import { expect } from 'chai';
import { direct, group } from '../helpers/chat.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

interface Msg {
  id: string;
  conversationId: string;
  senderId: string;
  body: string;
  clientMessageId: string | null;
  createdAt: string;
}

describe('messages', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });
  const { alice, bob, carol } = t.users;
  let conversationId: string;
  let otherConversationId: string;

  before(async () => {
    conversationId = await direct(alice, bob);
    otherConversationId = await group(alice, [bob], 'other');
  });

  const history = async (user: TestUser, id = conversationId): Promise<Msg[]> => {
    const res = await user.api.get(`/conversations/${id}?limit=200`);
    expect(res.status, res.text).to.equal(200);
    return res.body.messages;
  };
  const summary = async (user: TestUser, id = conversationId) => {
    const res = await user.api.get('/conversations?limit=200');
    return res.body.conversations.find((c: { id: string }) => c.id === id);
  };

  for (const path of ['message', 'messages']) {
    describe(`POST /conversations/{id}/${path}`, () => {
      const url = (id = conversationId) => `/conversations/${id}/${path}`;

      it('creates a message with 201 and Location, and it appears in both histories', async () => {
        const res = await alice.api.post(url(), { body: `hello via /${path}` });
        expect(res.status).to.equal(201);
        expect(res.headers.get('location')).to.equal(
          `/conversations/${conversationId}/message/${res.body.id}`,
        );
        expect(res.body).to.include({
          conversationId,
          senderId: alice.id,
          body: `hello via /${path}`,
          clientMessageId: null,
        });
        expect(res.body.id).to.be.a('string');
        expect(new Date(res.body.createdAt).toISOString()).to.equal(res.body.createdAt);
        expect((await history(bob)).at(-1)).to.deep.equal(res.body);
        expect((await history(alice)).at(-1)).to.deep.equal(res.body);
      });
    });
  }

  describe('POST /conversations/{id}/message', () => {
    const url = (id = conversationId) => `/conversations/${id}/message`;

    it('stores the body exactly as sent, surrounding spaces and all', async () => {
      const body = '  two spaces before, a newline after\n';
      const res = await alice.api.post(url(), { body });
      expect(res.status).to.equal(201);
      expect(res.body.body).to.equal(body);
      expect((await history(bob)).at(-1)!.body).to.equal(body);
    });

    it('accepts 4000 characters plus surrounding spaces, and 4000 characters outside the BMP', async () => {
      const spaced = await alice.api.post(url(), { body: `   ${'x'.repeat(4000)}   ` });
      expect(spaced.status).to.equal(201);
      expect(spaced.body.body).to.have.length(4006);
      const emoji = await alice.api.post(url(), { body: '😀'.repeat(4000) });
      expect(emoji.status).to.equal(201);
    });

    for (const [name, payload, path] of [
      ['an empty body', { body: '' }, 'body'],
      ['a blank body', { body: ' \n\t ' }, 'body'],
      ['a body of 4001 characters', { body: 'x'.repeat(4001) }, 'body'],
      ['a body of 4001 characters outside the BMP', { body: '😀'.repeat(4001) }, 'body'],
      ['a missing body', { clientMessageId: 'c' }, 'body'],
      ['a non-string body', { body: 42 }, 'body'],
      ['an empty clientMessageId', { body: 'x', clientMessageId: '' }, 'clientMessageId'],
      [
        'a clientMessageId over 64 characters',
        { body: 'x', clientMessageId: 'c'.repeat(65) },
        'clientMessageId',
      ],
      ['a non-string clientMessageId', { body: 'x', clientMessageId: 7 }, 'clientMessageId'],
      ['an unknown field', { body: 'x', text: 'x' }, 'text'],
    ] as const) {
      it(`rejects ${name} with 400`, async () => {
        const before = (await history(alice)).length;
        const res = await alice.api.post(url(), payload);
        expect(res.status).to.equal(400);
        expect(res.body.type).to.equal('urn:parley:problem:validation-failed');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
        expect(await history(alice)).to.have.length(before);
      });
    }

    it('returns the first message again with 200 for a repeated clientMessageId, even with another body', async () => {
      const first = await alice.api.post(url(), { body: 'first', clientMessageId: 'repeat-1' });
      expect(first.status).to.equal(201);
      expect(first.body.clientMessageId).to.equal('repeat-1');
      const again = await alice.api.post(url(), { body: 'second', clientMessageId: 'repeat-1' });
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.equal(first.body);
      const viaAlias = await alice.api.post(`/conversations/${conversationId}/messages`, {
        body: 'third',
        clientMessageId: 'repeat-1',
      });
      expect(viaAlias.status).to.equal(200);
      expect(viaAlias.body).to.deep.equal(first.body);
      const matching = (await history(bob)).filter((m) => m.clientMessageId === 'repeat-1');
      expect(matching).to.deep.equal([first.body]);
    });

    it('creates exactly one message when the same clientMessageId is sent 10 times at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          alice.api.post(url(), { body: `race ${i}`, clientMessageId: 'race-1' }),
        ),
      );
      expect(results.map((r) => r.status).sort()).to.deep.equal([
        200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
      ]);
      const created = results.find((r) => r.status === 201)!.body;
      for (const r of results) expect(r.body).to.deep.equal(created);
      expect((await history(bob)).filter((m) => m.clientMessageId === 'race-1')).to.deep.equal([created]);
    });

    it('treats the same clientMessageId from another sender or in another conversation as a new message', async () => {
      const mine = await alice.api.post(url(), { body: 'mine', clientMessageId: 'shared-1' });
      const theirs = await bob.api.post(url(), { body: 'theirs', clientMessageId: 'shared-1' });
      const elsewhere = await alice.api.post(url(otherConversationId), {
        body: 'elsewhere',
        clientMessageId: 'shared-1',
      });
      expect([mine.status, theirs.status, elsewhere.status]).to.deep.equal([201, 201, 201]);
      expect(new Set([mine.body.id, theirs.body.id, elsewhere.body.id]).size).to.equal(3);
      expect(theirs.body).to.include({ body: 'theirs', senderId: bob.id });
      expect(elsewhere.body).to.include({ body: 'elsewhere', conversationId: otherConversationId });
    });

    it('keeps the order of sends, and createdAt never goes backwards with it', async () => {
      const sent = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? bob : alice).api.post(url(), { body: `order ${i}` })),
      );
      expect(sent.every((r) => r.status === 201)).to.equal(true);
      const all = await history(bob);
      const ids = all.map((m) => Number(m.id));
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      const times = all.map((m) => m.createdAt);
      expect(times).to.deep.equal([...times].sort());
    });

    it('answers 404 to a non-member, for a nonexistent and for a malformed conversation id', async () => {
      const notMine = await carol.api.post(url(), { body: 'let me in' });
      const missing = await carol.api.post(url('987654'), { body: 'x' });
      const malformed = await carol.api.post(url('abc'), { body: 'x' });
      for (const res of [notMine, missing, malformed]) expect(res.status).to.equal(404);
      expect(missing.body).to.deep.equal(notMine.body);
      expect(malformed.body).to.deep.equal(notMine.body);
      expect((await history(alice)).map((m) => m.body)).to.not.include('let me in');
    });

    it('answers 415 for a body that is not JSON', async () => {
      const res = await alice.api.post(url(), 'hello', { 'Content-Type': 'text/plain' });
      expect(res.status).to.equal(415);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    });

    it('answers 400 for JSON that does not parse', async () => {
      const res = await alice.api.post(url(), '{"body": ', { 'Content-Type': 'application/json' });
      expect(res.status).to.equal(400);
    });

    it('answers 401 without a token', async () => {
      expect((await new Api(t.url).post(url(), { body: 'x' })).status).to.equal(401);
    });
  });

  for (const path of ['message', 'messages']) {
    describe(`DELETE /conversations/{id}/${path}/{messageId}`, () => {
      const url = (messageId: string, id = conversationId) => `/conversations/${id}/${path}/${messageId}`;
      const send = async (user: TestUser, body: string): Promise<Msg> => {
        const res = await user.api.post(`/conversations/${conversationId}/message`, { body });
        expect(res.status).to.equal(201);
        return res.body;
      };

      it('lets the sender delete with 204; the message leaves the history and lastMessage moves back', async () => {
        const kept = await send(alice, 'kept');
        const doomed = await send(alice, 'doomed');
        expect((await summary(bob)).lastMessage).to.deep.equal(doomed);
        const unreadBefore = (await summary(bob)).unreadCount;
        const res = await alice.api.delete(url(doomed.id));
        expect(res.status).to.equal(204);
        expect(res.text).to.equal('');
        expect((await history(bob)).map((m) => m.id)).to.not.include(doomed.id);
        const after = await summary(bob);
        expect(after.lastMessage).to.deep.equal(kept);
        expect(after.unreadCount).to.equal(unreadBefore - 1);
      });

      it('answers 403 to another participant and keeps the message', async () => {
        const message = await send(alice, `not yours (${path})`);
        const res = await bob.api.delete(url(message.id));
        expect(res.status).to.equal(403);
        expect((await history(alice)).map((m) => m.id)).to.include(message.id);
      });

      it('answers 404 to a non-member, for a deleted message and for a message of another conversation', async () => {
        const message = await send(alice, `to delete (${path})`);
        const nonMember = await carol.api.delete(url(message.id));
        expect(nonMember.status).to.equal(404);
        const wrongConversation = await alice.api.delete(url(message.id, otherConversationId));
        expect(wrongConversation.status).to.equal(404);
        expect((await alice.api.delete(url('987654'))).status).to.equal(404);
        expect((await alice.api.delete(url('abc'))).status).to.equal(404);
        expect((await alice.api.delete(url(message.id))).status).to.equal(204);
        expect((await alice.api.delete(url(message.id))).status).to.equal(404);
      });

      it('deletes once when the sender deletes the same message several times at once', async () => {
        const message = await send(alice, `double delete (${path})`);
        const { eventCursor: cursor } = (await bob.api.get(`/conversations/${conversationId}?limit=1`)).body;
        const results = await Promise.all(
          Array.from({ length: 10 }, () => alice.api.delete(url(message.id))),
        );
        expect(results.map((r) => r.status).sort()).to.deep.equal([204, ...Array(9).fill(404)]);
        const poll = await bob.api.get(`/events/poll?cursor=${encodeURIComponent(cursor)}&timeout=0`);
        const deletions = poll.body.events.filter(
          (e: { type: string; data: { messageId: string } }) =>
            e.type === 'message.deleted' && e.data.messageId === message.id,
        );
        expect(deletions).to.have.length(1);
      });

      it('answers 401 without a token', async () => {
        const message = await send(alice, 'anonymous delete');
        expect((await new Api(t.url).delete(url(message.id))).status).to.equal(401);
      });
    });
  }

  it('leaves lastMessage null once the only message is deleted', async () => {
    const conv = await carol.api.post('/conversations', { participantIds: [bob.id], title: 'one message' });
    const sent = await carol.api.post(`/conversations/${conv.body.id}/message`, { body: 'only' });
    expect(
      (await carol.api.delete(`/conversations/${conv.body.id}/message/${sent.body.id}`)).status,
    ).to.equal(204);
    const after = await summary(bob, conv.body.id);
    expect(after.lastMessage).to.equal(null);
    expect(after.unreadCount).to.equal(0);
  });

  it('never moves updatedAt backwards when a message is deleted after a rename', async () => {
    // Regression: deleting reset updatedAt to the time of the last message, before the rename.
    const conv = await carol.api.post('/conversations', { participantIds: [bob.id], title: 'renamed' });
    const sent = await carol.api.post(`/conversations/${conv.body.id}/message`, { body: 'soon gone' });
    let renamed = await carol.api.put(`/conversations/${conv.body.id}`, { title: 'renamed again' });
    while (renamed.body.updatedAt === sent.body.createdAt) {
      // Same millisecond as the send: rename once more so the two times differ.
      renamed = await carol.api.put(`/conversations/${conv.body.id}`, { title: `renamed ${Date.now()}` });
    }
    expect(renamed.status).to.equal(200);
    expect(
      (await carol.api.delete(`/conversations/${conv.body.id}/message/${sent.body.id}`)).status,
    ).to.equal(204);
    const after = await summary(bob, conv.body.id);
    expect(
      after.updatedAt >= renamed.body.updatedAt,
      `${after.updatedAt} < ${renamed.body.updatedAt}`,
    ).to.equal(true);
  });

  it('accepts no message from a member after their removal, however the two race', async () => {
    const [gus, hal] = await Promise.all([signUp(t.url, 'gus'), signUp(t.url, 'hal')]);
    const conv = await gus.api.post('/conversations', { participantIds: [hal.id, bob.id], title: 'race' });
    const { eventCursor } = (await gus.api.get(`/conversations/${conv.body.id}`)).body;
    const url = `/conversations/${conv.body.id}/message`;
    const sends = Array.from({ length: 20 }, (_, i) => hal.api.post(url, { body: `racing ${i}` }));
    await sends[0]; // the removal lands among the sends, not before all of them
    const removal = gus.api.delete(`/conversations/${conv.body.id}/participants/${hal.id}`);
    const statuses = (await Promise.all(sends)).map((r) => r.status);
    expect((await removal).status).to.equal(204);
    expect(
      statuses.every((s) => s === 201 || s === 404),
      String(statuses),
    ).to.equal(true);
    const poll = await gus.api.get(`/events/poll?cursor=${encodeURIComponent(eventCursor)}&timeout=0`);
    const types = poll.body.events
      .filter((e: { type: string; data: { senderId?: string; userId?: string } }) =>
        e.type === 'message.created' ? e.data.senderId === hal.id : e.type === 'participant.removed',
      )
      .map((e: { type: string }) => e.type);
    expect(types.at(-1)).to.equal('participant.removed');
    expect(types.filter((t: string) => t === 'message.created')).to.have.length(
      statuses.filter((s) => s === 201).length,
    );
    const history = (await gus.api.get(`/conversations/${conv.body.id}`)).body.messages;
    expect(history).to.have.length(statuses.filter((s) => s === 201).length);
  });

  describe('DELETE /users/{id}', () => {
    it("keeps the deleted user's messages in the other participant's history", async () => {
      const [dora, eli] = await Promise.all([signUp(t.url, 'dora'), signUp(t.url, 'eli')]);
      const conv = await dora.api.post('/conversations', { participantIds: [eli.id] });
      const said = await eli.api.post(`/conversations/${conv.body.id}/message`, { body: 'before I go' });
      await dora.api.post(`/conversations/${conv.body.id}/message`, { body: 'bye' });
      const last = await eli.api.post(`/conversations/${conv.body.id}/message`, { body: 'gone now' });
      expect((await eli.api.delete(`/users/${eli.id}`)).status).to.equal(204);

      const kept = await history(dora, conv.body.id);
      expect(kept.map((m) => m.body)).to.deep.equal(['before I go', 'bye', 'gone now']);
      expect(kept[0]).to.deep.equal(said.body);
      const listed = await summary(dora, conv.body.id);
      expect(listed.lastMessage).to.deep.equal(last.body);
      expect((await eli.api.get('/conversations')).status).to.equal(401);
      const again = await dora.api.post('/conversations', { participantIds: [eli.id] });
      expect(again.status).to.equal(400);
      expect(again.body.detail).to.include(eli.id);
    });
  });
});
