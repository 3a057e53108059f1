import { expect } from 'chai';
import { direct, group, send } from '../helpers/chat.ts';
import type { TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { PushReceiver, usePushReceiver } from '../helpers/push-receiver.ts';

/** A new device of `user` subscribed on `receiver`; returns its endpoint. */
async function subscribe(url: string, user: TestUser, receiver: PushReceiver): Promise<string> {
  const device = await newDevice(url, user, 'phone');
  const subscription = receiver.subscribe();
  const res = await device.api.put(`/devices/${device.deviceId}/push`, { type: 'webpush', ...subscription });
  expect(res.status, res.text).to.equal(200);
  return subscription.endpoint;
}

describe('Offline notifications: at most PUSH_DEVICE_LIMIT per device per window', () => {
  const LIMIT = 2;
  const WINDOW_MS = 1_500;
  const receiver = usePushReceiver();
  const t = useServer({
    users: ['alice', 'bob'],
    env: {
      PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
      PUSH_DEVICE_LIMIT: String(LIMIT),
      PUSH_DEVICE_WINDOW_MS: String(WINDOW_MS),
    },
  });

  it('holds the rest for the next window and sends only the newest of each conversation then', async () => {
    const { alice, bob } = t.users;
    const endpoint = await subscribe(t.url, bob, receiver);
    const pushes = receiver.received(endpoint);
    // When each push arrives: the receiver appends it to this array as it gets it.
    const arrivals: number[] = [];
    const append = pushes.push.bind(pushes);
    pushes.push = (...items) => {
      for (const _ of items) arrivals.push(Date.now());
      return append(...items);
    };

    const talk = await direct(alice, bob);
    const team = await group(alice, [bob], 'team');
    const sentToTalk = [];
    for (let i = 0; i < 5; i++) sentToTalk.push(await send(alice, talk, `talk ${i}`));
    const sentToTeam = [await send(alice, team, 'team 0'), await send(alice, team, 'team 1')];
    const newest = [sentToTalk.at(-1).id, sentToTeam.at(-1).id];
    await receiver.until(
      () => newest.every((id) => pushes.some((p) => p.payload.messageId === id)),
      'the newest message of each conversation',
      30_000,
    );
    await pushSettled(t.server, 30_000);

    // Fewer pushes than messages, never more than LIMIT within one window (less a margin for the
    // time between the server counting a push and the receiver getting it).
    expect(pushes.length).to.be.below(sentToTalk.length + sentToTeam.length);
    for (const at of arrivals) {
      const inWindow = arrivals.filter((other) => other <= at && other > at - (WINDOW_MS - 300));
      expect(inWindow.length, `pushes in the window ending at push ${arrivals.indexOf(at)}`).to.be.at.most(
        LIMIT,
      );
    }
    // The newest push of the direct conversation carries its newest unread count.
    const lastOfTalk = pushes.filter((p) => p.payload.conversationId === talk).at(-1);
    expect(lastOfTalk?.payload).to.include({ messageId: newest[0], unreadCount: sentToTalk.length });
    const counters = (t.server.parley.deps.push as unknown as { counters: Record<string, number> }).counters;
    expect(counters.deferred).to.be.at.least(1);
    expect(receiver.problems).to.deep.equal([]);
  });
});

describe('Offline notifications: a push service that stops answering', () => {
  let slow: PushReceiver;
  let fast: PushReceiver;
  before(async () => {
    [slow, fast] = await Promise.all([PushReceiver.start(), PushReceiver.start()]);
  });
  // Closed before the server, so the hanging requests end and the server stops at once.
  after(async () => {
    await Promise.all([slow.close(), fast.close()]);
  });
  const t = useServer({
    users: ['alice', 'bob', 'carol'],
    env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true', PUSH_CONCURRENCY: '3', PUSH_ORIGIN_CONCURRENCY: '2' },
  });

  it('holds only its own PUSH_ORIGIN_CONCURRENCY slots: sends return and other services are served', async () => {
    const { alice, bob, carol } = t.users;
    const stuck: string[] = [];
    for (let i = 0; i < 6; i++) {
      const endpoint = await subscribe(t.url, bob, slow);
      slow.answer(endpoint, { hang: true });
      stuck.push(endpoint);
    }
    const served = await subscribe(t.url, carol, fast);
    const conversationId = await group(alice, [bob, carol], 'one slow service');
    const message = await send(alice, conversationId, 'who hears this?');
    await fast.until(() => fast.received(served).length === 1, 'the push to the other service', 5_000);
    expect(fast.received(served)[0]?.payload.messageId).to.equal(message.id);
    // The slow service holds exactly its two slots, and a send still answers at once.
    const hanging = () => stuck.reduce((n, e) => n + slow.attempts(e), 0);
    await slow.until(() => hanging() >= 2, 'two requests to the slow service');
    const started = Date.now();
    await send(alice, conversationId, 'and this?');
    await fast.until(() => fast.received(served).length === 2, 'the second push to the other service', 5_000);
    expect(Date.now() - started).to.be.below(5_000);
    expect(hanging()).to.equal(2);
  });
});
