import { expect } from 'chai';
import webpush from 'web-push';
import { EndpointRefused } from '../../lib/push/endpoint-guard.ts';
import { PushQueueFull, PushWorkers } from '../../lib/push/push-workers.ts';
import { usePushReceiver } from '../helpers/push-receiver.ts';

describe('push workers', () => {
  const receiver = usePushReceiver();
  const vapid = webpush.generateVAPIDKeys();

  const keys = { ...vapid, subject: 'mailto:ops@example.com' };
  const webPushJob = (
    subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
    text: string,
  ) => ({
    kind: 'webpush' as const,
    subscription,
    payload: JSON.stringify({ text }),
    options: { TTL: 60, contentEncoding: 'aes128gcm' as const },
  });

  it('encrypts, signs (VAPID) and sends a Web Push from a worker, and refuses jobs past its queue bound', async () => {
    receiver.expectedVapidKey = vapid.publicKey;
    const held = receiver.subscribe();
    const open = receiver.subscribe();
    receiver.answer(held.endpoint, { hang: true }, { hang: true });
    const workers = new PushWorkers({ vapid: keys, allowPrivate: true, timeoutMs: 60_000 }, 1, 2);
    try {
      // Two requests the push service does not answer fill the queue: a third is refused.
      const first = workers.send(webPushJob(held, 'one'));
      const second = workers.send(webPushJob(held, 'two'));
      first.catch(() => {});
      second.catch(() => {});
      await receiver.until(() => receiver.attempts(held.endpoint) === 2, 'both held requests');
      const third = await workers.send(webPushJob(open, 'three')).catch((err: unknown) => err);
      expect(third).to.be.instanceOf(PushQueueFull);
      expect(workers.backlog).to.equal(2);
    } finally {
      await workers.close();
    }
    const again = new PushWorkers({ vapid: keys, allowPrivate: true, timeoutMs: 10_000 }, 1, 2);
    try {
      const answer = await again.send(webPushJob(open, 'four'));
      expect(answer.status).to.equal(201);
      const [push] = receiver.received(open.endpoint);
      expect(push?.payload).to.deep.equal({ text: 'four' }); // decrypted as a browser would
      expect(push?.headers['content-encoding']).to.equal('aes128gcm');
      expect(receiver.problems).to.deep.equal([]);
    } finally {
      await again.close();
    }
  });

  it("posts a gateway's request as it is and brings its answer back", async () => {
    receiver.rejectedPushKeys.add('dead-key');
    const workers = new PushWorkers({ vapid: keys, allowPrivate: true, timeoutMs: 10_000 });
    try {
      const answer = await workers.send({
        kind: 'post',
        url: `${receiver.url}/_matrix/push/v1/notify`,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ notification: { devices: [{ pushkey: 'dead-key' }] } }),
      });
      expect(answer.status).to.equal(200);
      expect(JSON.parse(answer.body)).to.deep.equal({ rejected: ['dead-key'] });
    } finally {
      await workers.close();
    }
  });

  it('refuses a private endpoint in the worker, as EndpointRefused, without the opt-in', async () => {
    const subscription = receiver.subscribe();
    const workers = new PushWorkers({ vapid: keys, allowPrivate: false, timeoutMs: 10_000 });
    try {
      const err = await workers.send(webPushJob(subscription, 'no')).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(EndpointRefused);
      expect((err as Error).message).to.match(/https/);
      expect(receiver.attempts(subscription.endpoint)).to.equal(0);
    } finally {
      await workers.close();
    }
  });
});
