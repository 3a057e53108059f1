import { expect } from 'chai';
import { insertUsers } from '../helpers/bulk-users.ts';
import { poll } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

// What a Conversation embeds at most (documented in its schema and the README).
const EMBEDDED = 20;

/** Issue 12, item 4: a list's size must not grow with other people's choices. */
describe('participants of a big group', function () {
  this.timeout(30_000);
  const t = useServer({ users: ['owner', 'victim', 'outsider'] });
  let id: string;
  let memberIds: string[];

  before(async () => {
    const { owner, victim } = t.users;
    const others = await insertUsers(t.server, 48);
    const res = await owner.api.post('/conversations', {
      participantIds: [victim.id, ...others],
      title: 'big',
    });
    expect(res.status, res.text).to.equal(201);
    id = res.body.id;
    memberIds = [owner.id, victim.id, ...others];
  });

  it(`embeds at most ${EMBEDDED} participants, the longest-standing first, and counts them all`, async () => {
    const { victim } = t.users;
    const list = await victim.api.get('/conversations');
    const [listed] = list.body.conversations;
    expect(listed.participants).to.have.length(EMBEDDED);
    expect(listed.participants[0]).to.include({ id: t.users.owner.id, role: 'owner' });
    expect(listed.participants.map((p: any) => p.id)).to.have.members(
      listed.participants.map((p: any) => p.id).filter((p: string) => memberIds.includes(p)),
    );
    expect(listed.participantCount).to.equal(50);
    const one = await victim.api.get(`/conversations/${id}`);
    expect(one.body.conversation.participants).to.have.length(EMBEDDED);
    expect(one.body.conversation.participantCount).to.equal(50);
  });

  it('counts the participants of small conversations too', async () => {
    const { owner, outsider } = t.users;
    const res = await owner.api.post('/conversations', { participantIds: [outsider.id] });
    expect(res.body.participantCount).to.equal(2);
    expect(res.body.participants).to.have.length(2);
  });

  it('pages through every participant with GET /conversations/{id}/participants', async () => {
    const { victim } = t.users;
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=15&cursor=${cursor}` : '?limit=15';
      const res = await victim.api.get(`/conversations/${id}/participants${query}`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.participants.length).to.be.at.most(15);
      seen.push(...res.body.participants);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).to.equal(4);
    expect(seen.map((p) => p.id)).to.have.members(memberIds);
    // The embedded participants are the first of the same order.
    const listed = (await victim.api.get('/conversations')).body.conversations.find((c: any) => c.id === id);
    // …without presence, which only the page carries.
    const withoutPresence = seen.slice(0, EMBEDDED).map(({ presence, lastSeenAt, ...p }) => p);
    expect(listed.participants).to.deep.equal(withoutPresence);
    expect(seen[0]).to.include({ role: 'owner' });
    expect(seen[1]).to.have.keys([
      'id',
      'username',
      'displayName',
      'avatarUrl',
      'role',
      'presence',
      'lastSeenAt',
    ]);
    expect(listed.participants[1]).to.have.keys(['id', 'username', 'displayName', 'avatarUrl', 'role']);
  });

  it('answers 404 to a non-member and 400 to a malformed cursor or limit', async () => {
    const { victim, outsider } = t.users;
    expectProblem(await outsider.api.get(`/conversations/${id}/participants`), 404);
    expectProblem(await victim.api.get(`/conversations/${id}/participants?cursor=nonsense`), 400);
    expectProblem(await victim.api.get(`/conversations/${id}/participants?limit=0`), 400);
  });

  it('bounds the conversation.created a newcomer gets, too', async () => {
    const { owner, outsider } = t.users;
    const cursor = (await outsider.api.get('/conversations')).body.eventCursor;
    const added = await owner.api.post(`/conversations/${id}/participants`, { userIds: [outsider.id] });
    expect(added.status).to.equal(200);
    expect(added.body.participantCount).to.equal(51);
    expect(added.body.participants).to.have.length(EMBEDDED);
    const res = await poll(outsider, { cursor, timeout: 5 });
    const created = res.body.events.find((e: any) => e.type === 'conversation.created');
    expect(created.data.participants).to.have.length(EMBEDDED);
    expect(created.data.participantCount).to.equal(51);
  });
});
