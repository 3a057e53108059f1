import { expect } from 'chai';
import { Api, signUp } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

describe('a fresh server', () => {
  const t = useServer();

  it('answers /health', async () => {
    const res = await new Api(t.url).get('/health');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ok' });
  });

  it('lets two users talk', async () => {
    const alice = await signUp(t.url, 'alice');
    const bob = await signUp(t.url, 'bob');
    const conv = await alice.api.post('/conversations', { participantIds: [bob.id] });
    expect(conv.status).to.equal(201);
    const sent = await alice.api.post(`/conversations/${conv.body.id}/message`, { body: 'hi' });
    expect(sent.status).to.equal(201);
    const history = await bob.api.get(`/conversations/${conv.body.id}`);
    expect(history.body.messages.map((m: { body: string }) => m.body)).to.deep.equal(['hi']);
    expect(history.body.conversation.unreadCount).to.equal(1);
  });
});
