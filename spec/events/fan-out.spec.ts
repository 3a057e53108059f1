import { expect } from 'chai';
import { direct, group, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';
import { countStatements } from '../helpers/statements.ts';

describe('fan-out of one event to many subscribers', () => {
  // Presence would add its own events as streams come and go, and the push dispatcher reads the
  // log on every commit; this spec counts queries.
  const t = useServer({
    users: ['owner', 'member1', 'member2', 'member3', 'member4', 'member5'],
    env: { PRESENCE_ENABLED: 'false', PUSH_ENABLED: 'false' },
  });
  const users = Object.values<TestUser>(t.users);
  let groupId: string;

  before(async () => {
    const [owner, ...others] = users;
    groupId = await group(owner!, others, 'fan-out');
  });

  /** Database queries from the send until every reader has the message. */
  async function queriesToDeliver(readers: SseReader[], body: string): Promise<number> {
    const { statements } = await countStatements(t.server.parley.deps.db, async () => {
      await send(users[0]!, groupId, body);
      for (const reader of readers) {
        const [event] = await reader.events(1);
        expect(event!.data.body).to.equal(body);
      }
    });
    return statements;
  }

  it('costs the same database round trips for six subscribers as for one', async () => {
    const one = [await SseReader.live(t.url, users[1]!.token)];
    // The first message reads the group's members; the tail keeps them until membership changes.
    await queriesToDeliver(one, 'warm-up');
    const forOne = await queriesToDeliver(one, 'to one');
    const six = [...one];
    for (const user of users) six.push(await SseReader.live(t.url, user.token));
    const forSix = await queriesToDeliver(six, 'to six');
    for (const reader of six) reader.close();
    expect(forSix).to.equal(forOne);
  });

  it('follows membership changes made while nobody on the node was listening', async () => {
    // The node's tail keeps each conversation's members between messages; a change it only reads
    // past (no stream open to fan out to) must still make it read them again.
    const [owner, leaver] = users as [TestUser, TestUser];
    const newcomer = await t.signUp('newcomer');
    const id = await group(owner, [leaver], 'changes');
    const first = await SseReader.live(t.url, leaver.token);
    await send(owner, id, 'members read');
    expect((await first.nextOfType('message.created')).data.body).to.equal('members read');
    first.close();
    await first.closed;
    // Until the server has seen every stream of this spec go, so nothing fans out the changes.
    const hub = t.server.parley.deps.hub;
    while (users.some((u) => hub.connectionsOf(Number(u.id)) > 0)) await new Promise(setImmediate);

    expect((await owner.api.delete(`/conversations/${id}/participants/${leaver.id}`)).status).to.equal(204);
    const added = await owner.api.post(`/conversations/${id}/participants`, { userIds: [newcomer.id] });
    expect(added.status).to.equal(200);
    const gone = await SseReader.live(t.url, leaver.token);
    const joined = await SseReader.live(t.url, newcomer.token);
    try {
      await send(owner, id, 'after the changes');
      expect((await joined.nextOfType('message.created')).data.body).to.equal('after the changes');
      // Something for the leaver after the message: had the message reached them, it would come first.
      const directId = await direct(users[5]!, leaver);
      const next = await gone.nextEvent();
      expect(next.type).to.equal('conversation.created');
      expect(next.data.id).to.equal(directId);
    } finally {
      gone.close();
      joined.close();
    }
  });

  it('sends every subscriber the same bytes', async () => {
    const readers = await Promise.all(users.map((u) => SseReader.live(t.url, u.token)));
    await send(users[2]!, groupId, 'same bytes');
    const frames = await Promise.all(readers.map((r) => r.nextFrame((f) => f.data !== undefined)));
    for (const reader of readers) reader.close();
    const [first, ...rest] = frames;
    for (const frame of rest) expect(frame).to.deep.equal(first);
  });
});
