import { expect } from 'chai';
import { direct, group } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

describe('Conversation.notifications: every conversation the caller sees carries their level', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'] });

  it('is `all` on a conversation just created, for its creator and in the list', async () => {
    const { alice, carol } = t.users;
    const created = await alice.api.post('/conversations', { participantIds: [carol.id], title: 'new' });
    expect(created.status).to.equal(201);
    expect(created.body.notifications).to.equal('all');
    const list = await carol.api.get('/conversations');
    const seen = list.body.conversations.find((c: { id: string }) => c.id === created.body.id);
    expect(seen?.notifications).to.equal('all');
  });

  it('shows `none` once muted — to the caller only — on every read, and `all` again once unmuted', async () => {
    const { alice, bob, carol } = t.users;
    const muted = await group(alice, [bob, carol], 'muted by bob');
    const loud = await direct(bob, alice);
    const put = await bob.api.put(`/conversations/${muted}/notifications`, { level: 'none' });
    expect(put.status).to.equal(200);
    expect(put.body.notifications).to.equal('none');

    const one = await bob.api.get(`/conversations/${muted}`);
    expect(one.body.conversation.notifications).to.equal('none');
    const list = await bob.api.get('/conversations');
    const levels = new Map(
      list.body.conversations.map((c: { id: string; notifications: string }) => [c.id, c.notifications]),
    );
    expect(levels.get(muted)).to.equal('none');
    expect(levels.get(loud)).to.equal('all');
    // The direct conversation asked for again (200, the existing one) and a rename carry it too.
    const again = await bob.api.post('/conversations', { participantIds: [alice.id] });
    expect(again.status).to.equal(200);
    expect(again.body.notifications).to.equal('all');
    const renamed = await alice.api.put(`/conversations/${muted}`, { title: 'renamed' });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.body.notifications).to.equal('all'); // alice's level, not bob's

    // Another member's view is their own.
    expect((await carol.api.get(`/conversations/${muted}`)).body.conversation.notifications).to.equal('all');

    await bob.api.put(`/conversations/${muted}/notifications`, { level: 'all' });
    expect((await bob.api.get(`/conversations/${muted}`)).body.conversation.notifications).to.equal('all');
  });
});
