import { expect } from 'chai';
import { group as chatGroup } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { SseReader } from '../helpers/sse.ts';

describe('groups', () => {
  // Every spec builds its own group, so the users can be shared (signing up is slow on purpose).
  const t = useServer({ users: ['alice', 'bob', 'carol', 'dave'], env: { MAX_GROUP_MEMBERS: '4' } });
  const { alice, bob, carol, dave } = t.users;
  const group = (owner: TestUser, members: TestUser[], title = 'team') => chatGroup(owner, members, title);
  const roles = (conversation: { participants: { id: string; role: string }[] }) =>
    Object.fromEntries(conversation.participants.map((p) => [p.id, p.role]));

  describe('POST /conversations/:id/participants', () => {
    it('adds members, announcing them to the group and the conversation to each newcomer', async () => {
      const id = await group(alice, [bob]);
      const bobStream = await SseReader.live(t.url, bob.token);
      const carolStream = await SseReader.live(t.url, carol.token);
      try {
        const res = await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
        expect(res.status).to.equal(200);
        expect(roles(res.body)).to.deep.equal({
          [alice.id]: 'owner',
          [bob.id]: 'member',
          [carol.id]: 'member',
        });
        const added = await bobStream.nextEvent();
        expect(added.type).to.equal('participant.added');
        expect(added.data).to.deep.equal({
          conversationId: id,
          userIds: [carol.id],
          role: 'member',
          addedBy: alice.id,
        });
        const created = await carolStream.nextEvent();
        expect(created.type).to.equal('conversation.created');
        expect(created.data.id).to.equal(id);
        expect(created.data.participants.map((p: { id: string }) => p.id)).to.include(carol.id);
      } finally {
        bobStream.close();
        carolStream.close();
      }
    });

    it('announces newcomers added together in one participant.added, and starts them at their conversation.created', async () => {
      const id = await group(alice, [bob]);
      const bobStream = await SseReader.live(t.url, bob.token);
      const carolStream = await SseReader.live(t.url, carol.token);
      try {
        const res = await alice.api.post(`/conversations/${id}/participants`, {
          userIds: [carol.id, dave.id],
        });
        expect(res.status).to.equal(200);
        const sent = await alice.api.post(`/conversations/${id}/message`, { body: 'welcome' });
        // The members hear of both newcomers at once…
        const heard = await bobStream.events(2);
        expect(heard.map((e) => [e.type, e.data.userIds ?? e.data.body])).to.deep.equal([
          ['participant.added', [carol.id, dave.id]],
          ['message.created', 'welcome'],
        ]);
        // …while a newcomer's first event of the conversation is the conversation itself, listing
        // both, and nothing of the newcomers' arrival comes before or after it.
        const [created, next] = await carolStream.events(2);
        expect(created!.type).to.equal('conversation.created');
        expect(created!.data.participants.map((p: { id: string }) => p.id)).to.include.members([
          carol.id,
          dave.id,
        ]);
        expect([next!.type, next!.data.id]).to.deep.equal(['message.created', sent.body.id]);
      } finally {
        bobStream.close();
        carolStream.close();
      }
    });

    it('keeps messages from before joining out of a newcomer’s history, paging included', async () => {
      const id = await group(alice, [bob]);
      const early = await alice.api.post(`/conversations/${id}/message`, { body: 'before carol' });
      await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
      const late = await alice.api.post(`/conversations/${id}/message`, { body: 'after carol' });
      const history = await carol.api.get(`/conversations/${id}`);
      expect(history.body.messages.map((m: { body: string }) => m.body)).to.deep.equal(['after carol']);
      expect(history.body.hasMore).to.equal(false);
      expect(history.body.conversation.unreadCount).to.equal(1);
      const back = await carol.api.get(`/conversations/${id}?before=${late.body.id}`);
      expect(back.body.messages).to.deep.equal([]);
      const around = await carol.api.get(`/conversations/${id}?after=${early.body.id}`);
      expect(around.body.messages.map((m: { body: string }) => m.body)).to.deep.equal(['after carol']);
      const del = await alice.api.delete(`/conversations/${id}/message/${early.body.id}`);
      expect(del.status).to.equal(204);
    });

    it('refuses a plain member (403)', async () => {
      const id = await group(alice, [bob]);
      const res = await bob.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
      expect(res.status).to.equal(403);
    });

    it('lets an admin add members', async () => {
      const id = await group(alice, [bob]);
      const promoted = await alice.api.put(`/conversations/${id}/participants/${bob.id}`, { role: 'admin' });
      expect(promoted.status).to.equal(200);
      expect(roles(promoted.body)[bob.id]).to.equal('admin');
      const res = await bob.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
      expect(res.status).to.equal(200);
    });

    it('answers 400 for a direct conversation, pointing to creating a group', async () => {
      const direct = await alice.api.post('/conversations', { participantIds: [bob.id] });
      const res = await alice.api.post(`/conversations/${direct.body.id}/participants`, {
        userIds: [carol.id],
      });
      expectProblem(res, 400, 'not-a-group');
      expect(res.body.detail).to.match(/POST \/conversations/);
    });

    it('answers 400 naming unknown user ids', async () => {
      const id = await group(alice, [bob]);
      const res = await alice.api.post(`/conversations/${id}/participants`, { userIds: ['999999'] });
      expect(res.status).to.equal(400);
      expect(res.body.detail).to.contain('999999');
    });

    it('answers 404 to someone who is not in the conversation', async () => {
      const id = await group(alice, [bob]);
      const res = await carol.api.post(`/conversations/${id}/participants`, { userIds: [dave.id] });
      expect(res.status).to.equal(404);
    });

    it('answers 409 beyond the member cap (MAX_GROUP_MEMBERS)', async () => {
      const id = await group(alice, [bob, carol]);
      const extra = await t.signUp('erin');
      const res = await alice.api.post(`/conversations/${id}/participants`, { userIds: [dave.id, extra.id] });
      expectProblem(res, 409, 'group-full');
      const fits = await alice.api.post(`/conversations/${id}/participants`, { userIds: [dave.id] });
      expect(fits.status).to.equal(200);
      expect(fits.body.participants).to.have.length(4);
    });
  });

  describe('DELETE /conversations/:id/participants/:userId', () => {
    it('stops a removed member’s stream from receiving the conversation at once', async () => {
      const id = await group(alice, [bob, carol]);
      const bobStream = await SseReader.live(t.url, bob.token);
      const carolStream = await SseReader.live(t.url, carol.token);
      try {
        const res = await alice.api.delete(`/conversations/${id}/participants/${bob.id}`);
        expect(res.status).to.equal(204);
        const removed = await bobStream.nextEvent();
        expect(removed.type).to.equal('participant.removed');
        expect(removed.data).to.deep.equal({ conversationId: id, userId: bob.id, removedBy: alice.id });
        await alice.api.post(`/conversations/${id}/message`, { body: 'without bob' });
        expect((await carolStream.nextOfType('message.created')).data.body).to.equal('without bob');
        // Something for bob after the message: if the message had reached him, it would come first.
        const direct = await dave.api.post('/conversations', { participantIds: [bob.id] });
        const next = await bobStream.nextEvent();
        expect(next.type).to.equal('conversation.created');
        expect(next.data.id).to.equal(direct.body.id);
        expect((await bob.api.get(`/conversations/${id}`)).status).to.equal(404);
      } finally {
        bobStream.close();
        carolStream.close();
      }
    });

    it('ends a removed member’s long-poll feed of the conversation at the removal', async () => {
      const id = await group(alice, [bob]);
      const { eventCursor } = (await bob.api.get(`/conversations/${id}`)).body;
      await alice.api.post(`/conversations/${id}/message`, { body: 'while bob is in' });
      await alice.api.delete(`/conversations/${id}/participants/${bob.id}`);
      await alice.api.post(`/conversations/${id}/message`, { body: 'after bob left' });
      // Something for bob after that message: once it arrives, everything before it has too.
      const marker = await dave.api.post('/conversations', { participantIds: [bob.id], title: 'marker' });
      const seen: { type: string; data: { id?: string; body?: string } }[] = [];
      let cursor = eventCursor;
      while (!seen.some((e) => e.type === 'conversation.created' && e.data.id === marker.body.id)) {
        const polled = await bob.api.get(`/events/poll?cursor=${cursor}&timeout=5`);
        seen.push(...polled.body.events);
        cursor = polled.body.cursor;
      }
      expect(seen.map((e) => e.type)).to.deep.equal([
        'message.created',
        'participant.removed',
        'conversation.created',
      ]);
      expect(seen[0]!.data.body).to.equal('while bob is in');
    });

    it('lets any member leave', async () => {
      const id = await group(alice, [bob]);
      const res = await bob.api.delete(`/conversations/${id}/participants/${bob.id}`);
      expect(res.status).to.equal(204);
      const list = await bob.api.get('/conversations');
      expect(list.body.conversations.map((c: { id: string }) => c.id)).not.to.include(id);
      const seen = await alice.api.get(`/conversations/${id}`);
      expect(roles(seen.body.conversation)).to.deep.equal({ [alice.id]: 'owner' });
    });

    it('refuses a member removing someone else (403), and an admin removing an owner (403)', async () => {
      const id = await group(alice, [bob, carol]);
      expect((await bob.api.delete(`/conversations/${id}/participants/${carol.id}`)).status).to.equal(403);
      await alice.api.put(`/conversations/${id}/participants/${bob.id}`, { role: 'admin' });
      expect((await bob.api.delete(`/conversations/${id}/participants/${alice.id}`)).status).to.equal(403);
      expect((await bob.api.delete(`/conversations/${id}/participants/${carol.id}`)).status).to.equal(204);
    });

    it('makes the longest-standing member owner when the last owner leaves', async () => {
      // Bob is there from the start, Carol joins later: Bob is the longest-standing member.
      const id = await group(alice, [bob]);
      await alice.api.post(`/conversations/${id}/participants`, { userIds: [carol.id] });
      const carolStream = await SseReader.live(t.url, carol.token);
      try {
        expect((await alice.api.delete(`/conversations/${id}/participants/${alice.id}`)).status).to.equal(
          204,
        );
        expect((await carolStream.nextEvent()).type).to.equal('participant.removed');
        const updated = await carolStream.nextEvent();
        expect(updated.type).to.equal('conversation.updated');
        expect(roles(updated.data)).to.deep.equal({ [bob.id]: 'owner', [carol.id]: 'member' });
      } finally {
        carolStream.close();
      }
      const seen = await carol.api.get(`/conversations/${id}`);
      expect(roles(seen.body.conversation)[bob.id]).to.equal('owner');
    });

    it('makes the longest-standing member owner when the last owner deletes their account', async () => {
      const owner = await t.signUp('gone');
      const res = await owner.api.post('/conversations', { participantIds: [bob.id], title: 'orphan' });
      await owner.api.post(`/conversations/${res.body.id}/participants`, { userIds: [carol.id] });
      expect((await owner.api.delete(`/users/${owner.id}`)).status).to.equal(204);
      const seen = await carol.api.get(`/conversations/${res.body.id}`);
      expect(roles(seen.body.conversation)).to.deep.equal({ [bob.id]: 'owner', [carol.id]: 'member' });
    });

    it('answers 404 for someone who is not a participant', async () => {
      const id = await group(alice, [bob]);
      expect((await alice.api.delete(`/conversations/${id}/participants/${carol.id}`)).status).to.equal(404);
    });

    it('lets a former member rejoin with history from the new joining on', async () => {
      const id = await group(alice, [bob]);
      await bob.api.delete(`/conversations/${id}/participants/${bob.id}`);
      await alice.api.post(`/conversations/${id}/message`, { body: 'while away' });
      await alice.api.post(`/conversations/${id}/participants`, { userIds: [bob.id] });
      await alice.api.post(`/conversations/${id}/message`, { body: 'welcome back' });
      const seen = await bob.api.get(`/conversations/${id}`);
      expect(seen.body.messages.map((m: { body: string }) => m.body)).to.deep.equal(['welcome back']);
    });
  });

  describe('PUT /conversations/:id', () => {
    it('renames a group and tells every member', async () => {
      const id = await group(alice, [bob]);
      const bobStream = await SseReader.live(t.url, bob.token);
      try {
        const res = await alice.api.put(`/conversations/${id}`, { title: '  Launch  ' });
        expect(res.status).to.equal(200);
        expect(res.body.title).to.equal('Launch');
        const updated = await bobStream.nextEvent();
        expect(updated.type).to.equal('conversation.updated');
        expect(updated.data).to.include({ id, title: 'Launch', updatedBy: alice.id });
      } finally {
        bobStream.close();
      }
    });

    it('refuses a plain member (403) and a direct conversation (400)', async () => {
      const id = await group(alice, [bob]);
      expect((await bob.api.put(`/conversations/${id}`, { title: 'mine' })).status).to.equal(403);
      const direct = await alice.api.post('/conversations', { participantIds: [bob.id] });
      expect((await alice.api.put(`/conversations/${direct.body.id}`, { title: 'x' })).status).to.equal(400);
    });
  });

  describe('PUT /conversations/:id/participants/:userId', () => {
    it('keeps at least one owner (409)', async () => {
      const id = await group(alice, [bob]);
      const res = await alice.api.put(`/conversations/${id}/participants/${alice.id}`, { role: 'member' });
      expectProblem(res, 409, 'last-owner');
    });

    it('is for owners only (403)', async () => {
      const id = await group(alice, [bob, carol]);
      await alice.api.put(`/conversations/${id}/participants/${bob.id}`, { role: 'admin' });
      const res = await bob.api.put(`/conversations/${id}/participants/${carol.id}`, { role: 'admin' });
      expect(res.status).to.equal(403);
    });
  });
});
