import { expect } from 'chai';
import webpush from 'web-push';
import { group, send } from '../helpers/chat.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { clusterEnv, describeOnPostgres, dropSchema } from '../helpers/postgres.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { PushReceiver } from '../helpers/push-receiver.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describeOnPostgres('offline notifications on two nodes', function () {
  this.timeout(60_000);
  const cluster = clusterEnv('parley_push_cluster');
  let receiver: PushReceiver;
  let nodes: TestServer[];

  before(async () => {
    receiver = await PushReceiver.start();
    const vapid = webpush.generateVAPIDKeys();
    receiver.expectedVapidKey = vapid.publicKey;
    const env = {
      ...cluster.env,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
    };
    nodes = [await startServer(env), await startServer(env)];
  });
  after(async () => {
    for (const node of nodes ?? []) await node.close();
    await receiver?.close();
    await dropSchema(cluster.schema);
  });

  it('sends each notification exactly once while both nodes dispatch', async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const sender = await signUp(a.url, 'sender');
    const members: TestUser[] = [];
    const endpoints: string[] = [];
    for (let i = 0; i < 6; i++) {
      const member = await signUp(a.url, `member${i}`);
      const device = await newDevice(i % 2 ? a.url : b.url, member);
      const subscription = receiver.subscribe();
      const res = await device.api.put(`/devices/${device.deviceId}/push`, {
        type: 'webpush',
        ...subscription,
      });
      expect(res.status, res.text).to.equal(200);
      members.push(member);
      endpoints.push(subscription.endpoint);
    }
    const conversationId = await group(sender, members, 'both nodes');
    const senderOnB: TestUser = { ...sender, api: new Api(b.url, sender.token) };
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      // Alternate nodes: each node's bus wakes both dispatchers.
      sent.push((await send(i % 2 ? senderOnB : sender, conversationId, `message ${i}`)).id);
    }
    await receiver.until(
      () => endpoints.every((e) => receiver.received(e).length >= sent.length),
      'every notification',
      30_000,
    );
    await pushSettled(a);
    const sentBy = nodes.map(
      (node) => (node.parley.deps.push as unknown as { counters: { sent: number } }).counters.sent,
    );
    console.log(`      pushes sent by each node: ${sentBy.join(', ')}`);
    expect(sentBy.reduce((x, y) => x + y)).to.equal(sent.length * endpoints.length);
    for (const endpoint of endpoints) {
      const ids = receiver.received(endpoint).map((p) => p.payload.messageId);
      expect([...ids].sort()).to.deep.equal([...sent].sort());
    }
    expect(receiver.problems).to.deep.equal([]);
  });
});
