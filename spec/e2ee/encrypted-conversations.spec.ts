import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { group, poll } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { errorPaths, expectProblem } from '../helpers/problem.ts';
import { blob, encryptedGroup, keyedDevice, newDevice } from './mls.ts';

describe('Encrypted conversations (MLS Delivery Service)', () => {
  const t = useServer({ users: ['alice', 'bob', 'carol', 'stranger'] });

  it('creates an encrypted conversation at epoch 0 and shows `encrypted` and `epoch` on every conversation', async () => {
    const { alice, bob } = t.users;
    const res = await alice.api.post('/conversations', {
      participantIds: [bob.id],
      title: 'secret',
      encrypted: true,
    });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ encrypted: true, epoch: 0 });
    const plain = await group(alice, [bob]);
    const list = await bob.api.get('/conversations');
    const byId = new Map(list.body.conversations.map((c: any) => [c.id, c]));
    expect(byId.get(res.body.id)).to.include({ encrypted: true, epoch: 0 });
    expect(byId.get(plain)).to.include({ encrypted: false, epoch: 0 });
  });

  it('keeps an encrypted direct conversation apart from the plain one of the same pair', async () => {
    const { alice, carol } = t.users;
    const plain = await alice.api.post('/conversations', { participantIds: [carol.id] });
    const secret = await alice.api.post('/conversations', { participantIds: [carol.id], encrypted: true });
    expect(secret.status, secret.text).to.equal(201);
    expect(secret.body).to.include({ type: 'direct', encrypted: true });
    expect(secret.body.id).to.not.equal(plain.body.id);
    const again = await carol.api.post('/conversations', { participantIds: [alice.id], encrypted: true });
    expect(again.status).to.equal(200);
    expect(again.body.id).to.equal(secret.body.id);
  });

  it('takes a ciphertext and refuses a body; the message, lastMessage and events carry no text', async () => {
    const { alice, bob } = t.users;
    const id = await encryptedGroup(alice, [bob]);
    const start = (await poll(bob, { timeout: 0 })).body.cursor;
    const ciphertext = blob(500);
    const sent = await alice.api.post(`/conversations/${id}/message`, { ciphertext, clientMessageId: 'c1' });
    expect(sent.status, sent.text).to.equal(201);
    expect(sent.body).to.include({ body: null, ciphertext, clientMessageId: 'c1' });

    const refused = await alice.api.post(`/conversations/${id}/message`, { body: 'a secret in plain text' });
    expectProblem(refused, 400, 'validation-failed');
    expect(errorPaths(refused)).to.deep.equal(['body']);
    const both = await alice.api.post(`/conversations/${id}/message`, { body: 'x', ciphertext });
    expectProblem(both, 400, 'validation-failed');
    const neither = await alice.api.post(`/conversations/${id}/message`, {});
    expectProblem(neither, 400, 'validation-failed');

    const history = await bob.api.get(`/conversations/${id}`);
    expect(history.body.messages.map((m: any) => m.id)).to.deep.equal([sent.body.id]);
    expect(history.body.conversation.lastMessage).to.include({ body: null, ciphertext });
    const events = await poll(bob, { cursor: start, timeout: 5 });
    const created = events.body.events.filter((e: any) => e.type === 'message.created');
    expect(created.map((e: any) => e.data)).to.deep.equal([sent.body]);
    expect(events.text).to.not.include('a secret in plain text');
  });

  it('answers 400 for a ciphertext in a plain conversation, malformed base64 and more than 64 KiB, 404 for a non-member', async () => {
    const { alice, bob, stranger } = t.users;
    const plain = await group(alice, [bob]);
    const inPlain = await alice.api.post(`/conversations/${plain}/message`, { ciphertext: blob() });
    expectProblem(inPlain, 400, 'validation-failed');
    expect(errorPaths(inPlain)).to.deep.equal(['ciphertext']);

    const id = await encryptedGroup(alice, [bob]);
    for (const bad of ['not base64!', 'QUJD=', 'QUJDRA', '']) {
      const res = await alice.api.post(`/conversations/${id}/message`, { ciphertext: bad });
      expectProblem(res, 400, 'validation-failed');
    }
    const tooBig = await alice.api.post(`/conversations/${id}/message`, {
      ciphertext: randomBytes(64 * 1024 + 1).toString('base64'),
    });
    expectProblem(tooBig, 400, 'validation-failed');
    const largest = await alice.api.post(`/conversations/${id}/message`, {
      ciphertext: randomBytes(64 * 1024).toString('base64'),
    });
    expect(largest.status, largest.text).to.equal(201);
    expectProblem(await stranger.api.post(`/conversations/${id}/message`, { body: 'hi' }), 404, 'not-found');
    expectProblem(
      await stranger.api.post(`/conversations/${id}/message`, { ciphertext: blob() }),
      404,
      'not-found',
    );
    const history = await alice.api.get(`/conversations/${id}`);
    expect(history.body.messages.map((m: any) => m.id)).to.deep.equal([largest.body.id]);
  });

  it('edits an encrypted message with a new ciphertext and refuses a body', async () => {
    const { alice, bob } = t.users;
    const id = await encryptedGroup(alice, [bob]);
    const sent = await alice.api.post(`/conversations/${id}/message`, { ciphertext: blob() });
    const path = `/conversations/${id}/message/${sent.body.id}`;
    const next = blob();
    const edited = await alice.api.put(path, { ciphertext: next });
    expect(edited.status, edited.text).to.equal(200);
    expect(edited.body).to.include({ id: sent.body.id, body: null, ciphertext: next });
    expect(edited.body.editedAt).to.be.a('string');
    expectProblem(await alice.api.put(path, { body: 'plain' }), 400, 'validation-failed');
    expectProblem(await bob.api.put(path, { ciphertext: blob() }), 403, 'forbidden');
    expect((await bob.api.get(path)).body.ciphertext).to.equal(next);
  });

  it('answers 409 to adding and removing members through the participants routes, but lets a member leave', async () => {
    const { alice, bob, carol } = t.users;
    const id = await encryptedGroup(alice, [bob, carol]);
    expectProblem(
      await alice.api.post(`/conversations/${id}/participants`, { userIds: [t.users.stranger.id] }),
      409,
      'conversation-encrypted',
    );
    expectProblem(
      await alice.api.delete(`/conversations/${id}/participants/${bob.id}`),
      409,
      'conversation-encrypted',
    );
    expect((await carol.api.delete(`/conversations/${id}/participants/${carol.id}`)).status).to.equal(204);
    const after = await alice.api.get(`/conversations/${id}`);
    expect(after.body.conversation.participants.map((p: any) => p.id)).to.have.members([alice.id, bob.id]);
  });

  it('tells everyone who shares an encrypted conversation about a device that publishes keys or is removed', async () => {
    const { alice } = t.users;
    const dora = await t.signUp('dora');
    const plainOnly = await t.signUp('plain');
    await encryptedGroup(alice, [dora]);
    await group(dora, [plainOnly]);
    const aliceStart = (await poll(alice, { timeout: 0 })).body.cursor;
    const plainStart = (await poll(plainOnly, { timeout: 0 })).body.cursor;

    const bare = await newDevice(t.url, dora, 'no keys yet');
    const keyed = await keyedDevice(t.url, dora, 1);
    expect((await keyed.api.delete(`/devices/${keyed.deviceId}`)).status).to.equal(204);

    const seen = await poll(alice, { cursor: aliceStart, timeout: 5 });
    const deviceEvents = seen.body.events
      .filter((e: any) => e.type.startsWith('device.'))
      .map((e: any) => [e.type, e.data.deviceId]);
    // Added when it published keys (a device without keys is nothing to encrypt for), removed when signed out.
    expect(deviceEvents).to.deep.equal([
      ['device.added', keyed.deviceId],
      ['device.removed', keyed.deviceId],
    ]);
    expect(deviceEvents.flat()).to.not.include(bare.deviceId);
    const unrelated = await poll(plainOnly, { cursor: plainStart, timeout: 0 });
    expect(unrelated.body.events.filter((e: any) => e.type.startsWith('device.'))).to.deep.equal([]);
  });
});
