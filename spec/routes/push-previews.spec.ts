import { createECDH, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { direct, poll, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { usePushReceiver } from '../helpers/push-receiver.ts';

describe('Offline notifications without previews, and polling devices', () => {
  const receiver = usePushReceiver();
  const t = useServer({
    users: ['alice', 'bob'],
    env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true', PUSH_PREVIEWS: 'false', PRESENCE_WINDOW_MS: '60000' },
  });

  async function subscribed(name: string) {
    const device = await newDevice(t.url, t.users.bob, name);
    const subscription = receiver.subscribe();
    const res = await device.api.put(`/devices/${device.deviceId}/push`, {
      type: 'webpush',
      ...subscription,
    });
    expect(res.status, res.text).to.equal(200);
    return { ...device, endpoint: subscription.endpoint };
  }

  it('sends a null body when PUSH_PREVIEWS=false', async () => {
    const { alice, bob } = t.users;
    const phone = await subscribed('phone');
    const message = await send(alice, await direct(alice, bob), 'secret plans');
    await pushSettled(t.server);
    const [push] = receiver.received(phone.endpoint);
    expect(push?.payload).to.include({ messageId: message.id, body: null });
    expect(JSON.stringify(push?.payload)).to.not.contain('secret');
  });

  it('sends nothing to a device that polled within the presence window', async () => {
    const { alice, bob } = t.users;
    const tablet = await subscribed('tablet');
    const polled = await poll({ ...bob, token: tablet.token, api: tablet.api }, { timeout: 0 });
    expect(polled.status).to.equal(200);
    await send(alice, await direct(alice, bob), 'you polled a moment ago');
    await pushSettled(t.server);
    expect(receiver.received(tablet.endpoint)).to.deep.equal([]);
  });
});

describe('Offline notifications turned off (PUSH_ENABLED=false)', () => {
  const t = useServer({
    users: ['alice', 'bob'],
    env: { PUSH_ENABLED: 'false', PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' },
  });

  it('still stores subscriptions, but owes and reads nothing: the dispatcher never starts', async () => {
    const { alice, bob } = t.users;
    const phone = await newDevice(t.url, bob, 'phone');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const res = await phone.api.put(`/devices/${phone.deviceId}/push`, {
      type: 'webpush',
      endpoint: 'http://127.0.0.1:9/push/unused',
      keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') },
    });
    expect(res.status, res.text).to.equal(200);
    await send(alice, await direct(alice, bob), 'nobody is told');
    const { db } = t.server.parley.deps;
    expect(await db('log_state').where({ key: 'push_through' }).first()).to.equal(undefined);
    expect(Number((await db('push_deliveries').count({ n: '*' }))[0]?.n)).to.equal(0);
  });
});
