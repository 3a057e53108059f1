import { expect } from 'chai';
import { insertUsers } from '../helpers/bulk-users.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

describe('groups of the largest size the contract allows', function () {
  this.timeout(60_000);
  const t = useServer({ users: ['alice'] });

  it('creates a group of 1,000 members in one request (SQLite takes the memberships in chunks)', async () => {
    const { alice } = t.users;
    const others = await insertUsers(t.server, 999);
    const res = await alice.api.post('/conversations', { participantIds: others, title: 'everyone' });
    expect(res.status, res.text).to.equal(201);
    // Every member is counted; the Conversation embeds the first 20 (the rest are paged).
    expect(res.body.participantCount).to.equal(1000);
    expect(res.body.participants).to.have.length(20);
  });
});

describe('MAX_GROUP_MEMBERS at creation', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol', 'dave'], env: { MAX_GROUP_MEMBERS: '3' } });

  it('refuses to create a group larger than the cap with 409 group-full', async () => {
    const { alice, bob, carol, dave } = t.users;
    const res = await alice.api.post('/conversations', {
      participantIds: [bob.id, carol.id, dave.id],
      title: 'x',
    });
    expectProblem(res, 409, 'group-full');
  });

  it('creates a group of exactly the cap', async () => {
    const { alice, bob, carol } = t.users;
    const res = await alice.api.post('/conversations', { participantIds: [bob.id, carol.id], title: 'x' });
    expect(res.status, res.text).to.equal(201);
  });
});
