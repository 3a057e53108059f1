import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { type ChildServer, childServer } from '../helpers/child-server.ts';
import { signUp } from '../helpers/client.ts';
import { dropSchema, onPostgres, postgresUrl } from '../helpers/postgres.ts';
import { newDevice } from '../helpers/push.ts';
import { PushReceiver } from '../helpers/push-receiver.ts';

describe('offline notifications across kill -9', function () {
  // Two cold `node --import tsx` starts.
  this.timeout(180_000);
  const schema = `parley_push_restart_${randomBytes(6).toString('hex')}`;
  let receiver: PushReceiver;
  let server: ChildServer;

  before(async () => {
    receiver = await PushReceiver.start();
    server = await childServer({
      PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
      PRESENCE_ENABLED: 'false',
      DELIVERY_FLUSH_MS: '0',
      // A 6 s lease (three push timeouts) rather than 30 s, for the take-over below.
      PUSH_TIMEOUT_MS: '2000',
      ...(onPostgres ? { DATABASE_URL: postgresUrl(schema) } : {}),
    });
    await server.start();
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
    if (onPostgres) await dropSchema(schema);
  });

  /** Alice, and Bob with a phone subscribed on the receiver (`subscribed`: the server's answer to that). */
  async function aliceAndBobsPhone() {
    const alice = await signUp(server.url, 'alice');
    const bob = await signUp(server.url, 'bob');
    const phone = await newDevice(server.url, bob, 'phone');
    const subscription = receiver.subscribe();
    const subscribed = await phone.api.put(`/devices/${phone.deviceId}/push`, {
      type: 'webpush',
      ...subscription,
    });
    return { alice, bob, phone, subscription, subscribed };
  }

  /** kill -9, a restart on the same database, then waits (up to `waitMs`) for a push to `endpoint`. */
  async function killAndRestartUntilPushed(endpoint: string, what: string, waitMs: number) {
    await server.kill();
    await server.start();
    await receiver.until(() => receiver.received(endpoint).length >= 1, what, waitMs);
  }

  it('delivers a notification owed when the server was killed, once, after the restart, with the same VAPID key', async () => {
    const { alice, bob, phone, subscription, subscribed } = await aliceAndBobsPhone();
    expect(subscribed.status, subscribed.text).to.equal(200);
    receiver.expectedVapidKey = (await alice.api.get('/push/vapid-public-key')).body.publicKey;
    // The push service is down for the first attempt: the notification is committed and owed, not sent.
    receiver.answer(subscription.endpoint, { status: 503, headers: { 'Retry-After': '3' } });
    const message = await send(alice, await direct(alice, bob), 'survives the crash');
    await receiver.until(() => receiver.attempts(subscription.endpoint) >= 1, 'the first attempt');
    // Killed once the failure is recorded (the notification is postponed, not leased).
    await until(
      async () => (await phone.api.get(`/devices/${phone.deviceId}`)).body.push?.lastFailure !== null,
    );
    await killAndRestartUntilPushed(subscription.endpoint, 'the push after the restart', 30_000);
    // One more message, received after the first: nothing of the first came twice before it.
    const later = await send(alice, await direct(alice, bob), 'and this one');
    await receiver.until(() => receiver.received(subscription.endpoint).length >= 2, 'the second push');
    expect(receiver.received(subscription.endpoint).map((p) => p.payload.messageId)).to.deep.equal([
      message.id,
      later.id,
    ]);
    expect(receiver.problems).to.deep.equal([]);
  });

  it('takes over a push that was in flight when the server died, once its lease (three PUSH_TIMEOUT_MS) has run out', async () => {
    const { alice, bob, subscription } = await aliceAndBobsPhone();
    // The push service never answers the first request: the server dies with the push in flight.
    receiver.answer(subscription.endpoint, { hang: true });
    const message = await send(alice, await direct(alice, bob), 'in flight');
    await receiver.until(() => receiver.attempts(subscription.endpoint) >= 1, 'the first attempt');
    await killAndRestartUntilPushed(subscription.endpoint, 'the taken-over push', 60_000);
    expect(receiver.received(subscription.endpoint).map((p) => p.payload.messageId)).to.deep.equal([
      message.id,
    ]);
    expect(receiver.problems).to.deep.equal([]);
  });
});

/** Waits (bounded) until `check` holds, re-checking as soon as the last check answered. */
async function until(check: () => Promise<boolean>, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}
