import { expect } from 'chai';
import { direct, group, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

describe('GET /conversations/:id/message/:messageId', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });

  it('answers the Location of a sent message with that message (it was a 405)', async () => {
    const { alice, bob } = t.users;
    const id = await direct(alice, bob);
    const sent = await alice.api.post(`/conversations/${id}/message`, { body: 'where am I?' });
    expect(sent.status).to.equal(201);
    const location = sent.headers.get('location')!;
    for (const reader of [alice, bob]) {
      const res = await reader.api.get(location);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal(sent.body);
    }
    const alias = await bob.api.get(location.replace('/message/', '/messages/'));
    expect(alias.body).to.deep.equal(sent.body);
  });

  it('answers 404 to an outsider and to a member who joined after the message', async () => {
    const { alice, bob, carol } = t.users;
    const id = await direct(alice, bob);
    const message = await send(alice, id, 'not for carol');
    expectProblem(await carol.api.get(`/conversations/${id}/message/${message.id}`), 404, 'not-found');
    const groupId = await group(alice, [bob]);
    const before = await send(alice, groupId, 'before carol');
    expect(
      (await alice.api.post(`/conversations/${groupId}/participants`, { userIds: [carol.id] })).status,
    ).to.equal(200);
    expectProblem(await carol.api.get(`/conversations/${groupId}/message/${before.id}`), 404, 'not-found');
    const after = await send(alice, groupId, 'after carol');
    expect((await carol.api.get(`/conversations/${groupId}/message/${after.id}`)).status).to.equal(200);
  });
});
