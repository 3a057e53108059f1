import { expect } from 'chai';
import type { ApiResponse } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

function expectRateLimited(res: ApiResponse): void {
  expect(res.status, res.text).to.equal(429);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body.type).to.equal('urn:parley:problem:rate-limited');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${res.headers.get('retry-after')}`).to
    .be.true;
}

describe('group creation and member adds per user (issue 12, item 1)', () => {
  describe('GROUPS_PER_WINDOW', () => {
    const t = useServer({
      users: ['alice', 'bob', 'carol', 'dave'],
      env: { GROUPS_PER_WINDOW: '2', GROUP_WINDOW_SECONDS: '600', MEMBER_ADDS_PER_WINDOW: '0' },
    });

    it('answers 429 with Retry-After beyond the groups a user may create, and creates nothing', async () => {
      const { alice, bob, carol } = t.users;
      const create = () =>
        alice.api.post('/conversations', { participantIds: [bob.id, carol.id], title: 'g' });
      expect((await create()).status).to.equal(201);
      expect((await create()).status).to.equal(201);
      const before = (await alice.api.get('/conversations')).body.conversations.length;
      expectRateLimited(await create());
      expect((await alice.api.get('/conversations')).body.conversations).to.have.length(before);
    });

    it('counts per user, and leaves direct conversations alone', async () => {
      const { alice, bob, carol, dave } = t.users;
      // Alice has spent her groups above; a direct conversation is no group.
      expect((await alice.api.post('/conversations', { participantIds: [dave.id] })).status).to.equal(201);
      const other = await bob.api.post('/conversations', { participantIds: [carol.id, dave.id], title: 'b' });
      expect(other.status).to.equal(201);
    });
  });

  describe('MEMBER_ADDS_PER_WINDOW', () => {
    const t = useServer({
      users: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
      env: { GROUPS_PER_WINDOW: '0', MEMBER_ADDS_PER_WINDOW: '3', MEMBER_ADD_WINDOW_SECONDS: '600' },
    });

    it('counts every user named, at creation and when adding, and refuses beyond with 429', async () => {
      const { alice, bob, carol, dave, erin, frank } = t.users;
      const created = await alice.api.post('/conversations', {
        participantIds: [bob.id, carol.id],
        title: 'g',
      });
      expect(created.status).to.equal(201);
      const id = created.body.id;
      // Two of three spent: one more user is fine, then the window is spent.
      expect(
        (await alice.api.post(`/conversations/${id}/participants`, { userIds: [dave.id] })).status,
      ).to.equal(200);
      expectRateLimited(await alice.api.post(`/conversations/${id}/participants`, { userIds: [erin.id] }));
      const shown = (await alice.api.get(`/conversations/${id}`)).body.conversation;
      expect(shown.participants.map((p: any) => p.id)).to.have.members([alice.id, bob.id, carol.id, dave.id]);
      // Another user's adds are their own.
      const theirs = await bob.api.post('/conversations', {
        participantIds: [erin.id, frank.id],
        title: 'b',
      });
      expect(theirs.status).to.equal(201);
    });
  });
});
