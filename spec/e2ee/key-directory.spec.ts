import { expect } from 'chai';
import { poll } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';
import { errorPaths, expectProblem } from '../helpers/problem.ts';
import { blob, keyedDevice, newDevice } from './mls.ts';

describe('Key directory (MLS Delivery Service)', () => {
  const t = useServer({
    users: ['alice', 'bob', 'carol'],
    env: { KEY_PACKAGE_CLAIMS_PER_WINDOW: '60' },
  });

  describe('PUT /devices/{deviceId}/keys', () => {
    it('publishes a device’s keys once, shows them on the device and to others, and answers 409 after', async () => {
      const { alice, bob } = t.users;
      const phone = await newDevice(t.url, alice, 'Phone');
      const keys = { cipherSuite: 1, credential: blob(40), signatureKey: blob(32) };
      const res = await phone.api.put(`/devices/${phone.deviceId}/keys`, keys);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ id: phone.deviceId, keyPackagesLeft: 0 });
      expect(res.body.keys).to.include(keys);
      expect(res.body.keys.createdAt).to.match(/Z$/);

      const again = await phone.api.put(`/devices/${phone.deviceId}/keys`, {
        ...keys,
        signatureKey: blob(32),
      });
      expectProblem(again, 409, 'device-keys-set');

      const seen = await bob.api.get(`/users/${alice.id}/devices`);
      expect(seen.status).to.equal(200);
      const listed = seen.body.devices.find((d: any) => d.id === phone.deviceId);
      expect(listed.keys).to.include(keys);
      expect(listed).to.have.all.keys('id', 'keys', 'createdAt');
      const others = seen.body.devices.filter((d: any) => d.id !== phone.deviceId);
      expect(others.every((d: any) => d.keys === null)).to.equal(true);
    });

    it('answers 404 for a device not yours and 400 for keys that are not base64', async () => {
      const { alice, bob } = t.users;
      const laptop = await newDevice(t.url, alice);
      const keys = { cipherSuite: 1, credential: blob(40), signatureKey: blob(32) };
      expectProblem(await bob.api.put(`/devices/${laptop.deviceId}/keys`, keys), 404, 'not-found');
      const bad = await laptop.api.put(`/devices/${laptop.deviceId}/keys`, {
        ...keys,
        credential: 'not*base64',
        signatureKey: 'QUJD', // fine
      });
      expectProblem(bad, 400, 'validation-failed');
      expect(errorPaths(bad)).to.deep.equal(['credential']);
      const unpadded = await laptop.api.put(`/devices/${laptop.deviceId}/keys`, {
        ...keys,
        credential: 'QUJDRA',
      });
      expectProblem(unpadded, 400, 'validation-failed');
      const suite = await laptop.api.put(`/devices/${laptop.deviceId}/keys`, { ...keys, cipherSuite: 70000 });
      expectProblem(suite, 400, 'validation-failed');
      const huge = await laptop.api.put(`/devices/${laptop.deviceId}/keys`, {
        ...keys,
        signatureKey: blob(5000),
      });
      expectProblem(huge, 400, 'validation-failed');
      // Nothing was set by the refusals: the real keys are accepted now.
      const ok = await laptop.api.put(`/devices/${laptop.deviceId}/keys`, keys);
      expect(ok.status, ok.text).to.equal(200);
    });
  });

  describe('POST /devices/{deviceId}/key-packages', () => {
    it('takes up to 100 packages from a device with keys, counts them, and refuses the rest', async () => {
      const { alice, bob } = t.users;
      const tablet = await newDevice(t.url, alice);
      expectProblem(
        await tablet.api.post(`/devices/${tablet.deviceId}/key-packages`, { keyPackages: [blob()] }),
        409,
        'device-keys-missing',
      );
      await tablet.api.put(`/devices/${tablet.deviceId}/keys`, {
        cipherSuite: 1,
        credential: blob(40),
        signatureKey: blob(32),
      });
      const tooMany = await tablet.api.post(`/devices/${tablet.deviceId}/key-packages`, {
        keyPackages: Array.from({ length: 101 }, () => blob(8)),
      });
      expectProblem(tooMany, 400, 'validation-failed');
      const malformed = await tablet.api.post(`/devices/${tablet.deviceId}/key-packages`, {
        keyPackages: [blob(), 'AA*A'],
      });
      expectProblem(malformed, 400, 'validation-failed');
      expect(errorPaths(malformed)).to.deep.equal(['keyPackages.1']);
      expectProblem(
        await bob.api.post(`/devices/${tablet.deviceId}/key-packages`, { keyPackages: [blob()] }),
        404,
        'not-found',
      );
      const full = await tablet.api.post(`/devices/${tablet.deviceId}/key-packages`, {
        keyPackages: Array.from({ length: 100 }, () => blob(300)),
        lastResort: blob(300),
      });
      expect(full.status, full.text).to.equal(200);
      expect(full.body).to.deep.equal({ keyPackagesLeft: 100 });
      const device = await tablet.api.get(`/devices/${tablet.deviceId}`);
      expect(device.body.keyPackagesLeft).to.equal(100);
    });
  });

  describe('POST /key-packages/claim', () => {
    it('hands each of 10 packages out at most once under 50 concurrent claims, then the last-resort one', async () => {
      const { bob } = t.users;
      const dave = await t.signUp('dave');
      const device = await keyedDevice(t.url, dave, 10);
      const start = (await dave.api.get('/conversations?limit=1')).body.eventCursor;
      const claims = await Promise.all(
        Array.from({ length: 50 }, () => bob.api.post('/key-packages/claim', { userIds: [dave.id] })),
      );
      const handedOut: string[] = [];
      for (const res of claims) {
        expect(res.status, res.text).to.equal(200);
        expect(res.body.keyPackages).to.have.length(1);
        expect(res.body.keyPackages[0]).to.include({ userId: dave.id, deviceId: device.deviceId });
        handedOut.push(res.body.keyPackages[0].keyPackage);
      }
      const oneTime = handedOut.filter((p) => p !== device.lastResort);
      expect(new Set(oneTime).size, 'no one-time package twice').to.equal(oneTime.length);
      expect([...oneTime].sort()).to.deep.equal([...device.keyPackages].sort());
      expect(handedOut.filter((p) => p === device.lastResort)).to.have.length(40);
      const after = await device.api.get(`/devices/${device.deviceId}`);
      expect(after.body.keyPackagesLeft).to.equal(0);
      // Told once when it fell under 10 and once when the last one went; never for last-resort handouts.
      await dave.api.get('/conversations?limit=1'); // a consistent read: every claim's event is readable now
      const low = (await poll(dave, { cursor: start, timeout: 5 })).body.events
        .filter((e: any) => e.type === 'key-packages.low')
        .map((e: any) => e.data.keyPackagesLeft);
      expect(low).to.deep.equal([9, 0]);
    });

    it('gives one package per device with keys, skips the calling device and tells a device running low', async () => {
      const { carol } = t.users;
      const erin = await t.signUp('erin');
      const first = await keyedDevice(t.url, erin, 10);
      const second = await keyedDevice(t.url, erin, 3);
      await newDevice(t.url, erin, 'no keys');
      const start = (await poll(first.user, { timeout: 0 })).body.cursor;
      const res = await carol.api.post('/key-packages/claim', { userIds: [erin.id, erin.id] });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.keyPackages.map((k: any) => k.deviceId)).to.have.members([
        first.deviceId,
        second.deviceId,
      ]);
      // Claiming for yourself (to add your other devices) leaves out the device asking.
      const own = await first.api.post('/key-packages/claim', { userIds: [erin.id] });
      expect(own.body.keyPackages.map((k: any) => k.deviceId)).to.deep.equal([second.deviceId]);
      // first went from 10 to 9 (under 10), second from 3 to 2 and then 1: only the crossing tells.
      const events = await poll(first.user, { cursor: start, timeout: 5 });
      const low = events.body.events.filter((e: any) => e.type === 'key-packages.low');
      expect(low.map((e: any) => e.data)).to.deep.equal([{ deviceId: first.deviceId, keyPackagesLeft: 9 }]);
    });

    it('answers 400 naming unknown users, and 429 once the caller has claimed too much', async () => {
      const { alice } = t.users;
      const frank = await t.signUp('frank');
      const unknown = await frank.api.post('/key-packages/claim', { userIds: [alice.id, '999999', 'x'] });
      expectProblem(unknown, 400, 'validation-failed');
      expect(unknown.body.detail).to.include('999999');
      // 60 named users per window (this server's setting): the first call above counted 3.
      for (let i = 0; i < 57; i++) {
        const res = await frank.api.post('/key-packages/claim', { userIds: [alice.id] });
        expect(res.status, res.text).to.equal(200);
      }
      const limited = await frank.api.post('/key-packages/claim', { userIds: [alice.id] });
      expectProblem(limited, 429, 'rate-limited');
      expect(Number(limited.headers.get('retry-after'))).to.be.above(0);
    });
  });

  describe('DELETE /devices/{deviceId}', () => {
    it('removes the device’s keys and key packages with it', async () => {
      const { bob } = t.users;
      const gina = await t.signUp('gina');
      const device = await keyedDevice(t.url, gina, 4);
      expect((await device.api.delete(`/devices/${device.deviceId}`)).status).to.equal(204);
      const listed = await bob.api.get(`/users/${gina.id}/devices`);
      expect(listed.body.devices.map((d: any) => d.id)).to.not.include(device.deviceId);
      const claimed = await bob.api.post('/key-packages/claim', { userIds: [gina.id] });
      expect(claimed.body.keyPackages).to.deep.equal([]);
    });
  });
});
