import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { newDevice } from '../helpers/push.ts';
import { usePushReceiver } from '../helpers/push-receiver.ts';

describe('DELETE /users/{id}: devices and offline notifications', () => {
  const receiver = usePushReceiver();
  const t = useServer({ users: ['alice', 'bob'], env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' } });

  const count = async (table: string, where: Record<string, unknown>) => {
    const [row] = await t.server.parley.deps.db(table).where(where).count({ n: '*' });
    return Number(row?.n ?? 0);
  };

  it('deletes the account’s devices, push subscriptions, owed notifications and mutes', async () => {
    const { alice } = t.users;
    const bob = await t.signUp('leaver');
    const phone = await newDevice(t.url, bob, 'phone');
    const subscription = receiver.subscribe();
    // The push service asks for a retry in an hour: the notification stays owed until then.
    receiver.answer(subscription.endpoint, { status: 503, headers: { 'Retry-After': '3600' } });
    expect(
      (await phone.api.put(`/devices/${phone.deviceId}/push`, { type: 'webpush', ...subscription })).status,
    ).to.equal(200);
    const conversationId = await direct(alice, bob);
    const other = await direct(bob, t.users.bob);
    expect((await bob.api.put(`/conversations/${other}/notifications`, { level: 'none' })).status).to.equal(
      200,
    );
    await send(alice, conversationId, 'are you leaving?');
    await receiver.until(() => receiver.attempts(subscription.endpoint) >= 1, 'the first attempt');
    const userId = Number(bob.id);
    expect(await count('devices', { user_id: userId })).to.be.at.least(2);
    expect(await count('push_subscriptions', { user_id: userId })).to.equal(1);
    expect(await count('push_deliveries', { user_id: userId })).to.equal(1);
    expect(await count('conversation_mutes', { user_id: userId })).to.equal(1);

    expect((await bob.api.delete(`/users/${bob.id}`)).status).to.equal(204);

    expect(await count('devices', { user_id: userId })).to.equal(0);
    expect(await count('push_subscriptions', { user_id: userId })).to.equal(0);
    expect(await count('push_deliveries', { user_id: userId })).to.equal(0);
    expect(await count('conversation_mutes', { user_id: userId })).to.equal(0);
    expectProblem(await alice.api.get(`/users/${bob.id}/devices`), 404);
    // The other user's devices are untouched.
    expect(await count('devices', { user_id: Number(alice.id) })).to.be.at.least(1);
  });
});
