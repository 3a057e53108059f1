import { expect } from 'chai';
import { send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { newDevice, pushSettled } from '../helpers/push.ts';
import { usePushReceiver } from '../helpers/push-receiver.ts';
import { blob } from './mls.ts';

describe('Offline notifications of end-to-end encrypted conversations', () => {
  const receiver = usePushReceiver();
  // Previews on: an encrypted conversation's notification still has no body.
  const t = useServer({ users: ['alice', 'bob'], env: { PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true' } });

  it('carries a null body and no ciphertext, while a plain conversation’s carries its preview', async () => {
    const { alice, bob } = t.users;
    const phone = await newDevice(t.url, bob, 'phone');
    const subscription = receiver.subscribe();
    const res = await phone.api.put(`/devices/${phone.deviceId}/push`, { type: 'webpush', ...subscription });
    expect(res.status, res.text).to.equal(200);
    const created = await alice.api.post('/conversations', {
      participantIds: [bob.id],
      title: 'secret',
      encrypted: true,
    });
    const ciphertext = blob(200);
    const secret = await alice.api.post(`/conversations/${created.body.id}/message`, { ciphertext });
    expect(secret.status, secret.text).to.equal(201);
    const plainGroup = await alice.api.post('/conversations', { participantIds: [bob.id], title: 'plain' });
    const plain = await send(alice, plainGroup.body.id, 'lunch at noon');
    await pushSettled(t.server);
    const pushes = receiver.received(subscription.endpoint).map((p) => p.payload as any);
    const ofSecret = pushes.find((p) => p.messageId === secret.body.id);
    const ofPlain = pushes.find((p) => p.messageId === plain.id);
    expect(ofSecret).to.include({ type: 'message', conversationId: created.body.id, body: null });
    expect(JSON.stringify(ofSecret)).to.not.contain(ciphertext.slice(0, 40));
    expect(ofPlain).to.include({ body: 'lunch at noon' });
  });
});
