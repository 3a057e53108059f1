import { expect } from 'chai';
import { group } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';

describe('PUT /conversations/:id/message/:messageId', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });
  const { alice, bob, carol } = t.users;
  let conversationId: string;
  before(async () => {
    conversationId = await group(alice, [bob], 'edits');
  });

  const send = async (from: TestUser, body: string) => {
    const res = await from.api.post(`/conversations/${conversationId}/message`, { body });
    expect(res.status).to.equal(201);
    return res.body as { id: string; createdAt: string };
  };

  it('changes the body, stamps editedAt and tells every member with message.updated', async () => {
    const message = await send(alice, 'helo');
    const bobStream = await SseReader.live(t.url, bob.token);
    try {
      const res = await alice.api.put(`/conversations/${conversationId}/message/${message.id}`, {
        body: 'hello',
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ id: message.id, body: 'hello', createdAt: message.createdAt });
      expect(Date.parse(res.body.editedAt)).to.be.at.least(Date.parse(message.createdAt));
      const event = await bobStream.nextEvent();
      expect(event.type).to.equal('message.updated');
      expect(event.data).to.deep.equal(res.body);
    } finally {
      bobStream.close();
    }
    const history = await bob.api.get(`/conversations/${conversationId}`);
    const shown = history.body.messages.find((m: { id: string }) => m.id === message.id);
    expect(shown.body).to.equal('hello');
    expect(shown.editedAt).to.be.a('string');
  });

  it('accepts the /messages alias', async () => {
    const message = await send(alice, 'one');
    const res = await alice.api.put(`/conversations/${conversationId}/messages/${message.id}`, {
      body: 'two',
    });
    expect(res.status).to.equal(200);
    expect(res.body.body).to.equal('two');
  });

  it('refuses an edit by someone other than the sender (403), leaving the message as it was', async () => {
    const message = await send(alice, 'mine');
    const res = await bob.api.put(`/conversations/${conversationId}/message/${message.id}`, {
      body: 'yours',
    });
    expect(res.status).to.equal(403);
    const history = await alice.api.get(`/conversations/${conversationId}`);
    expect(history.body.messages.find((m: { id: string }) => m.id === message.id)).to.include({
      body: 'mine',
      editedAt: null,
    });
  });

  it('refuses a delete by someone other than the sender (403)', async () => {
    const message = await send(alice, 'keep me');
    const res = await bob.api.delete(`/conversations/${conversationId}/message/${message.id}`);
    expect(res.status).to.equal(403);
  });

  it('answers 404 for a message that is gone and for someone not in the conversation', async () => {
    const message = await send(alice, 'short-lived');
    expect(
      (await alice.api.delete(`/conversations/${conversationId}/message/${message.id}`)).status,
    ).to.equal(204);
    const gone = await alice.api.put(`/conversations/${conversationId}/message/${message.id}`, { body: 'x' });
    expect(gone.status).to.equal(404);
    const live = await send(alice, 'still here');
    const outsider = await carol.api.put(`/conversations/${conversationId}/message/${live.id}`, {
      body: 'x',
    });
    expect(outsider.status).to.equal(404);
  });

  it('refuses a blank body (400)', async () => {
    const message = await send(alice, 'text');
    const res = await alice.api.put(`/conversations/${conversationId}/message/${message.id}`, {
      body: '   ',
    });
    expect(res.status).to.equal(400);
  });
});
