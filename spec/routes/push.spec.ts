import { expect } from 'chai';
import { direct, group, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { PushReceiver } from '../helpers/push-receiver.ts';
import { SseReader } from '../helpers/sse.ts';

describe('Offline notifications (Web Push)', () => {
  let receiver: PushReceiver;
  // Filled in once the receiver listens, before the server starts (useServer reads it then).
  const env: Record<string, string> = { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' };
  before(async () => {
    receiver = await PushReceiver.start();
    env.PUSH_GATEWAYS = `${receiver.url}/_matrix/push/v1/notify`;
  });
  after(() => receiver.close());
  const t = useServer({ users: ['alice', 'bob', 'carol'], env });

  /** A new device of `user` subscribed on the local receiver; returns it with its endpoint. */
  async function subscribedDevice(user: (typeof t.users)['bob'], name = 'phone') {
    if (!receiver.expectedVapidKey) {
      const key = await user.api.get('/push/vapid-public-key');
      expect(key.status).to.equal(200);
      receiver.expectedVapidKey = key.body.publicKey;
    }
    const device = await newDevice(t.url, user, name);
    const subscription = receiver.subscribe();
    const res = await device.api.put(`/devices/${device.deviceId}/push`, {
      type: 'webpush',
      ...subscription,
    });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.push).to.include({ type: 'webpush', lastFailure: null });
    return { ...device, endpoint: subscription.endpoint };
  }

  afterEach(() => expect(receiver.problems).to.deep.equal([]));

  it('sends an offline device exactly one decryptable notification per message', async () => {
    const { alice, bob } = t.users;
    const phone = await subscribedDevice(bob);
    const conversationId = await direct(alice, bob);
    const first = await send(alice, conversationId, 'Lunch at noon?');
    await pushSettled(t.server);
    const second = await send(alice, conversationId, 'x'.repeat(300));
    await receiver.until(() => receiver.received(phone.endpoint).length >= 2, 'the second push');
    await pushSettled(t.server);
    const pushes = receiver.received(phone.endpoint);
    expect(pushes.map((p) => p.payload.messageId)).to.deep.equal([first.id, second.id]);
    const [one, two] = pushes as [any, any];
    expect(one.payload).to.include({
      type: 'message',
      conversationId,
      senderId: alice.id,
      senderName: alice.username,
      title: alice.username,
      body: 'Lunch at noon?',
    });
    expect(one.payload.unreadCount).to.equal(1);
    expect(one.payload.eventCursor).to.be.a('string');
    expect([...two.payload.body]).to.have.length(200);
    expect(two.payload.unreadCount).to.equal(2);
    expect(one.headers.urgency).to.equal('high');
    expect(one.headers.topic).to.equal(`c${conversationId}`);
    expect(Number(one.headers.ttl)).to.be.above(0);
  });

  it('sends nothing to a device with an open stream, but still to the same user’s offline device', async () => {
    const { alice, carol } = t.users;
    const laptop = await subscribedDevice(carol, 'laptop');
    const phone = await subscribedDevice(carol, 'phone');
    const stream = await SseReader.live(t.url, laptop.token);
    const conversationId = await direct(alice, carol);
    const message = await send(alice, conversationId, 'are you there?');
    await stream.nextOfType('message.created');
    await pushSettled(t.server);
    expect(receiver.received(laptop.endpoint)).to.deep.equal([]);
    expect(receiver.received(phone.endpoint).map((p) => p.payload.messageId)).to.deep.equal([message.id]);
    stream.close();
  });

  it('sends nothing for a muted conversation, and again once unmuted', async () => {
    const { alice, bob, carol } = t.users;
    const phone = await subscribedDevice(bob);
    const conversationId = await group(alice, [bob, carol], 'muted group');
    const muted = await bob.api.put(`/conversations/${conversationId}/notifications`, { level: 'none' });
    expect(muted.status, muted.text).to.equal(200);
    expect(muted.body).to.include({ id: conversationId, notifications: 'none' });
    await send(alice, conversationId, 'nobody hears this');
    await pushSettled(t.server);
    expect(receiver.received(phone.endpoint)).to.deep.equal([]);
    await bob.api.put(`/conversations/${conversationId}/notifications`, { level: 'all' });
    const heard = await send(alice, conversationId, 'now you do');
    await pushSettled(t.server);
    const pushes = receiver.received(phone.endpoint);
    expect(pushes.map((p) => p.payload.messageId)).to.deep.equal([heard.id]);
    expect(pushes[0]!.headers.urgency).to.equal('normal');
    expect(pushes[0]!.payload.title).to.equal('muted group');
  });

  it('tells a subscribed device when its user is added to a group, each of those added at once', async () => {
    const { alice, bob } = t.users;
    const [carol, dave] = await Promise.all([t.signUp('carol'), t.signUp('dave')]);
    const phones = await Promise.all([subscribedDevice(carol), subscribedDevice(dave)]);
    const conversationId = await group(alice, [bob], 'new group');
    const added = await alice.api.post(`/conversations/${conversationId}/participants`, {
      userIds: [carol.id, dave.id],
    });
    expect(added.status, added.text).to.be.oneOf([200, 201]);
    await pushSettled(t.server);
    for (const phone of phones) {
      const pushes = receiver.received(phone.endpoint);
      expect(pushes).to.have.length(1);
      expect(pushes[0]!.payload).to.include({
        type: 'added',
        conversationId,
        senderId: alice.id,
        body: null,
      });
    }
  });

  it('ends a subscription its push service answers 410 for, and shows the failure until then', async () => {
    const { alice, bob } = t.users;
    const phone = await subscribedDevice(bob);
    receiver.answer(phone.endpoint, { status: 410 });
    await send(alice, await direct(alice, bob), 'gone?');
    await pushSettled(t.server);
    expect(receiver.attempts(phone.endpoint)).to.equal(1);
    const device = await phone.api.get(`/devices/${phone.deviceId}`);
    expect(device.body.push).to.equal(null);
  });

  /**
   * Alice's message to bob, whose phone's push service is down for a second (503 with Retry-After: 1);
   * returns once that refused the first attempt.
   */
  async function firstAttemptRefused(body: string) {
    const { alice, bob } = t.users;
    const phone = await subscribedDevice(bob);
    receiver.answer(phone.endpoint, { status: 503, headers: { 'Retry-After': '1' } });
    const conversationId = await direct(alice, bob);
    const message = await send(alice, conversationId, body);
    await receiver.until(() => receiver.attempts(phone.endpoint) >= 1, 'the first attempt');
    return { alice, bob, phone, conversationId, message };
  }

  it('retries a 503 with Retry-After: 1 and delivers once', async () => {
    const { phone, message } = await firstAttemptRefused('try again');
    // The receiver counts the attempt before the server has read its answer: wait for the record.
    let failure: string | null = null;
    for (const deadline = Date.now() + 5_000; !failure && Date.now() < deadline; ) {
      failure = (await phone.api.get(`/devices/${phone.deviceId}`)).body.push.lastFailure;
    }
    expect(failure).to.match(/503/);
    await pushSettled(t.server);
    expect(receiver.attempts(phone.endpoint)).to.equal(2);
    expect(receiver.received(phone.endpoint).map((p) => p.payload.messageId)).to.deep.equal([message.id]);
  });

  it('skips a message read before its turn', async () => {
    // The push service is down for a second: the message is read in the meantime.
    const { bob, phone, conversationId, message } = await firstAttemptRefused('read me');
    const read = await bob.api.post(`/conversations/${conversationId}/read`, { messageId: message.id });
    expect(read.status, read.text).to.be.oneOf([200, 204]);
    await pushSettled(t.server);
    expect(receiver.received(phone.endpoint)).to.deep.equal([]);
  });

  it('skips a message deleted before its turn', async () => {
    const { alice, phone, conversationId, message } = await firstAttemptRefused('oops');
    expect(
      (await alice.api.delete(`/conversations/${conversationId}/message/${message.id}`)).status,
    ).to.equal(204);
    await pushSettled(t.server);
    expect(receiver.received(phone.endpoint)).to.deep.equal([]);
  });

  it('takes gateway subscriptions only for a configured gateway, and notifies through it', async () => {
    const { alice, bob } = t.users;
    const phone = await newDevice(t.url, bob);
    const body = {
      type: 'gateway',
      url: 'https://gateway.example/_matrix/push/v1/notify',
      appId: 'app.parley',
      pushKey: 'key-1',
    };
    expectProblem(
      await phone.api.put(`/devices/${phone.deviceId}/push`, body),
      400,
      'push-gateway-not-allowed',
    );
    const ok = await phone.api.put(`/devices/${phone.deviceId}/push`, { ...body, url: env.PUSH_GATEWAYS });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.push.type).to.equal('gateway');
    const conversationId = await direct(alice, bob);
    const message = await send(alice, conversationId, 'via Sygnal');
    await pushSettled(t.server);
    const sent = receiver.gatewayNotifications.filter((n) => n.event_id === message.id);
    expect(sent).to.have.length(1);
    expect(sent[0]).to.deep.include({
      room_id: conversationId,
      sender: alice.id,
      type: 'm.room.message',
      prio: 'high',
      content: { msgtype: 'm.text', body: 'via Sygnal' },
    });
    expect(sent[0].counts.unread).to.be.a('number').above(0);
    expect(sent[0].devices).to.deep.equal([
      { app_id: 'app.parley', pushkey: 'key-1', data: { eventCursor: sent[0].devices[0].data.eventCursor } },
    ]);
    // A gateway that lists the key as rejected ends the subscription.
    receiver.rejectedPushKeys.add('key-1');
    await send(alice, conversationId, 'rejected');
    await pushSettled(t.server);
    expect((await phone.api.get(`/devices/${phone.deviceId}`)).body.push).to.equal(null);
  });

  it('ends a subscription on DELETE /devices/{id}/push', async () => {
    const { bob } = t.users;
    const phone = await subscribedDevice(bob);
    expect((await phone.api.delete(`/devices/${phone.deviceId}/push`)).status).to.equal(204);
    expect((await phone.api.get(`/devices/${phone.deviceId}`)).body.push).to.equal(null);
  });
});

describe('Offline notifications: endpoint safety', () => {
  const t = useServer({ users: ['bob'] });

  it('refuses http and private-address endpoints without PUSH_ALLOW_PRIVATE_ENDPOINTS', async () => {
    const phone = await newDevice(t.url, t.users.bob);
    const keys = { p256dh: 'B'.repeat(87), auth: 'A'.repeat(22) };
    for (const endpoint of [
      'http://127.0.0.1:9/push/1',
      'https://127.0.0.1/push/1',
      'https://[::1]/push/1',
      'https://169.254.169.254/latest',
      'https://10.1.2.3/push',
      'https://[fd00::1]/push',
      'https://localhost/push',
    ]) {
      const res = await phone.api.put(`/devices/${phone.deviceId}/push`, { type: 'webpush', endpoint, keys });
      expectProblem(res, 400, 'push-endpoint-refused');
    }
  });
});
