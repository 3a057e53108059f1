import { expect } from 'chai';
import { EncryptionPool, EncryptionQueueFull } from '../../lib/push/encryption-pool.ts';

describe('push encryption pool', () => {
  const job = (payload: string) => ({
    subscription: {
      endpoint: 'https://push.example/1',
      // A P-256 public key and auth secret as a browser would make them.
      keys: {
        p256dh: 'BLHyoF_JYlh7TcGDZER1jtkuHlPof3OymwjTWpKCP8gBj2YdBj9QXCw6ImLWcfZVSgWfhR55pn4InVHGo5nbaSE',
        auth: 'KOx7Q88CWdqyvoVlXXcADQ',
      },
    },
    payload,
    options: { headers: { Authorization: 'vapid t=x, k=y' }, TTL: 60, contentEncoding: 'aes128gcm' as const },
  });

  it('builds requests in a worker, and refuses jobs past its queue bound', async () => {
    const pool = new EncryptionPool(1, 2);
    try {
      const first = pool.request(job('one'));
      const second = pool.request(job('two'));
      const third = await pool.request(job('three')).catch((err: unknown) => err);
      expect(third).to.be.instanceOf(EncryptionQueueFull);
      const [a, b] = await Promise.all([first, second]);
      expect(a.endpoint).to.equal('https://push.example/1');
      expect(a.headers['Content-Encoding']).to.equal('aes128gcm');
      expect(a.headers.Authorization).to.equal('vapid t=x, k=y');
      expect(a.body.byteLength).to.be.above(86); // header block + ciphertext + tag
      expect(Buffer.from(a.body).equals(Buffer.from(b.body))).to.equal(false);
      expect(pool.backlog).to.equal(0);
      await pool.request(job('four')); // room again once the first two are done
    } finally {
      await pool.close();
    }
  });
});
