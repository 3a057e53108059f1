import { expect } from 'chai';
import { direct } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { SseReader } from '../helpers/sse.ts';

describe('Presence is shown only to people who share a conversation (issue 12, item 21)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol'], env: { PRESENCE_ENABLED: 'true' } });

  it('hides presence and lastSeenAt from strangers, shows them to contacts and to oneself', async () => {
    const { alice, bob, carol } = t.users;
    const stream = await SseReader.live(t.url, bob.token);
    try {
      const seenBy = async (viewer: typeof alice) => {
        const one = (await viewer.api.get(`/users/${bob.id}`)).body;
        const listed = (await viewer.api.get(`/users?q=${bob.username}`)).body.users.find(
          (u: { id: string }) => u.id === bob.id,
        );
        return {
          one: [one.presence, one.lastSeenAt !== null],
          listed: [listed.presence, listed.lastSeenAt !== null],
        };
      };
      // The stream makes bob online once the presence tracker has recorded it, just after the
      // stream opened: what each viewer may see is checked from then on.
      while ((await bob.api.get(`/users/${bob.id}`)).body.presence !== 'online') {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await seenBy(alice)).to.deep.equal({ one: [null, false], listed: [null, false] });
      expect(await seenBy(bob)).to.deep.equal({ one: ['online', true], listed: ['online', true] });
      await direct(carol, bob);
      expect(await seenBy(carol)).to.deep.equal({ one: ['online', true], listed: ['online', true] });
      expect(await seenBy(alice)).to.deep.equal({ one: [null, false], listed: [null, false] });
    } finally {
      stream.close();
    }
  });
});
