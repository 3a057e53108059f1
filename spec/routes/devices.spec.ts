import { expect } from 'chai';
import { Api, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { SseReader } from '../helpers/sse.ts';

/** Logs `user` in again, as another device (or as `device.id`); returns the token and device id. */
async function loginAs(url: string, user: TestUser, device?: { id?: string; name?: string }) {
  const res = await new Api(url).post('/login', { username: user.username, password: user.password, device });
  expect(res.status, res.text).to.equal(200);
  return {
    token: res.body.token as string,
    deviceId: res.body.deviceId as string,
    api: new Api(url, res.body.token),
  };
}

describe('Devices', () => {
  const t = useServer({ users: ['alice', 'bob'] });

  it('gives every login a device, named as asked, and lists it as current', async () => {
    const { alice } = t.users;
    const phone = await loginAs(t.url, alice, { name: 'Phone' });
    expect(phone.deviceId).to.be.a('string').with.length.above(10);
    const res = await phone.api.get('/devices');
    expect(res.status).to.equal(200);
    const mine = res.body.devices.find((d: any) => d.id === phone.deviceId);
    expect(mine).to.include({ name: 'Phone', current: true, push: null, keys: null, keyPackagesLeft: 0 });
    expect(mine.createdAt).to.match(/Z$/);
    const others = res.body.devices.filter((d: any) => d.id !== phone.deviceId);
    expect(others.length).to.be.at.least(1);
    expect(others.every((d: any) => d.current === false)).to.equal(true);
  });

  it('re-attaches a login to one of your devices by id, and makes a new one for an id not yours', async () => {
    const { alice, bob } = t.users;
    const first = await loginAs(t.url, alice, { name: 'Laptop' });
    const again = await loginAs(t.url, alice, { id: first.deviceId });
    expect(again.deviceId).to.equal(first.deviceId);
    const stolen = await loginAs(t.url, bob, { id: first.deviceId });
    expect(stolen.deviceId).to.not.equal(first.deviceId);
  });

  it('renames your own device and answers 404 for anyone else’s', async () => {
    const { alice, bob } = t.users;
    const tablet = await loginAs(t.url, alice, { name: 'Tablet' });
    const renamed = await tablet.api.put(`/devices/${tablet.deviceId}`, { name: 'Old tablet' });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.body.name).to.equal('Old tablet');
    expectProblem(await bob.api.put(`/devices/${tablet.deviceId}`, { name: 'mine now' }), 404, 'not-found');
    expectProblem(await bob.api.delete(`/devices/${tablet.deviceId}`), 404, 'not-found');
    expectProblem(
      await tablet.api.put(`/devices/${tablet.deviceId}`, { name: '' }),
      400,
      'validation-failed',
    );
  });

  it('signs a deleted device out at once: its token gets 401 and its open stream ends', async () => {
    const { alice } = t.users;
    const doomed = await loginAs(t.url, alice, { name: 'Lost phone' });
    const stream = await SseReader.live(t.url, doomed.token);
    const res = await alice.api.delete(`/devices/${doomed.deviceId}`);
    expect(res.status, res.text).to.equal(204);
    await stream.closed;
    expectProblem(await doomed.api.get('/devices'), 401, 'unauthenticated');
    const list = await alice.api.get('/devices');
    expect(list.body.devices.map((d: any) => d.id)).to.not.include(doomed.deviceId);
  });

  it('tells the user’s other devices about devices added and removed', async () => {
    const { alice } = t.users;
    const stream = await SseReader.live(t.url, alice.token);
    const added = await loginAs(t.url, alice, { name: 'Watch' });
    // Other specs' logins of alice may be announced on this stream too: find this one's.
    const ofThisDevice = (f: { event?: string; data?: string }) => !!f.data?.includes(added.deviceId);
    const addedFrame = await stream.waitFor((f) => f.event === 'device.added' && ofThisDevice(f));
    expect(JSON.parse(addedFrame.data!).data).to.deep.equal({ userId: alice.id, deviceId: added.deviceId });
    await alice.api.delete(`/devices/${added.deviceId}`);
    const removedFrame = await stream.waitFor((f) => f.event === 'device.removed' && ofThisDevice(f));
    expect(JSON.parse(removedFrame.data!).data).to.deep.equal({ userId: alice.id, deviceId: added.deviceId });
    stream.close();
  });

  it('shows others a public view: ids and ages, no names, no activity', async () => {
    const { alice, bob } = t.users;
    const res = await bob.api.get(`/users/${alice.id}/devices`);
    expect(res.status).to.equal(200);
    expect(res.body.devices.length).to.be.at.least(1);
    for (const device of res.body.devices)
      expect(Object.keys(device).sort()).to.deep.equal(['createdAt', 'id', 'keys']);
    expectProblem(await bob.api.get('/users/999999/devices'), 404, 'not-found');
  });
});
