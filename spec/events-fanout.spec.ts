import { expect } from 'chai';
import { signUp, type TestUser } from './helpers/client.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { SseReader, say } from './helpers/sse.ts';
import { countStatements } from './helpers/statements.ts';

describe('fan-out of one event to many subscribers', () => {
  let server: TestServer;
  let users: TestUser[];
  let groupId: string;

  before(async () => {
    // Presence would add its own events as streams come and go; this spec counts queries.
    server = await startServer({ PRESENCE_ENABLED: 'false' });
    users = [];
    for (let i = 0; i < 6; i++) users.push(await signUp(server.url, 'member'));
    const [owner, ...others] = users;
    const group = await owner!.api.post('/conversations', {
      participantIds: others.map((u) => u.id),
      title: 'fan-out',
    });
    groupId = group.body.id;
  });
  after(() => server.close());

  /** Database queries from the send until every reader has the message. */
  async function queriesToDeliver(readers: SseReader[], body: string): Promise<number> {
    const { statements } = await countStatements(server.parley.deps.db, async () => {
      await say(users[0]!, groupId, body);
      for (const reader of readers) {
        const [event] = await reader.events(1);
        expect(event!.data.body).to.equal(body);
      }
    });
    return statements;
  }

  it('costs the same database round trips for six subscribers as for one', async () => {
    const one = [await SseReader.live(server.url, users[1]!.token)];
    const forOne = await queriesToDeliver(one, 'to one');
    const six = [...one];
    for (const user of users) six.push(await SseReader.live(server.url, user.token));
    const forSix = await queriesToDeliver(six, 'to six');
    for (const reader of six) reader.close();
    expect(forSix).to.equal(forOne);
  });

  it('sends every subscriber the same bytes', async () => {
    const readers = await Promise.all(users.map((u) => SseReader.live(server.url, u.token)));
    await say(users[2]!, groupId, 'same bytes');
    const frames = await Promise.all(readers.map((r) => r.nextFrame((f) => f.data !== undefined)));
    for (const reader of readers) reader.close();
    const [first, ...rest] = frames;
    for (const frame of rest) expect(frame).to.deep.equal(first);
  });
});
