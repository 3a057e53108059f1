import { expect } from 'chai';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

// The smallest valid 1×1 images of each kind the server accepts.
const IMAGES = {
  'image/png': Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  ),
  'image/gif': Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'),
  'image/webp': Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64'),
  'image/jpeg': Buffer.from(
    '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
    'base64',
  ),
} as const;

const upload = (user: TestUser, id: string, bytes: Uint8Array, contentType = 'image/png') =>
  user.api.put(`/users/${id}/avatar`, bytes, { 'Content-Type': contentType });

describe('PUT /users/{userId}/avatar', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;

  for (const [type, bytes] of Object.entries(IMAGES)) {
    it(`stores a ${type} and serves it back with its type, an ETag and cache headers`, async () => {
      const res = await upload(alice, alice.id, bytes, type);
      expect(res.status).to.equal(200);
      expect(res.body.id).to.equal(alice.id);
      expect(res.body.avatarUrl).to.match(new RegExp(`^/users/${alice.id}/avatar\\?v=`));

      const served = await bob.api.get(res.body.avatarUrl);
      expect(served.status).to.equal(200);
      expect(served.headers.get('content-type')).to.equal(type);
      expect(served.headers.get('etag')).to.match(/^"[\w-]+"$/);
      expect(served.headers.get('cache-control')).to.match(/max-age=\d+/);
      expect(Number(served.headers.get('content-length'))).to.equal(bytes.length);
    });
  }

  it('serves exactly the bytes uploaded', async () => {
    await upload(alice, alice.id, IMAGES['image/gif'], 'image/gif');
    const res = await fetch(`${t.url}/users/${alice.id}/avatar`, {
      headers: { Authorization: `Bearer ${bob.token}` },
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(IMAGES['image/gif'])).to.equal(true);
  });

  it('recognises the image by its bytes, not by the declared Content-Type', async () => {
    expect((await upload(alice, alice.id, IMAGES['image/png'], 'image/jpeg')).status).to.equal(200);
    const served = await bob.api.get(`/users/${alice.id}/avatar`);
    expect(served.headers.get('content-type')).to.equal('image/png');
  });

  it('answers 304 to a matching If-None-Match, and 200 with the new ETag after a change', async () => {
    await upload(alice, alice.id, IMAGES['image/png']);
    const first = await bob.api.get(`/users/${alice.id}/avatar`);
    const etag = first.headers.get('etag')!;
    const again = await bob.api.get(`/users/${alice.id}/avatar`, { 'If-None-Match': etag });
    expect(again.status).to.equal(304);
    expect(again.text).to.equal('');
    expect(again.headers.get('etag')).to.equal(etag);

    await upload(alice, alice.id, IMAGES['image/webp'], 'image/webp');
    const changed = await bob.api.get(`/users/${alice.id}/avatar`, { 'If-None-Match': etag });
    expect(changed.status).to.equal(200);
    expect(changed.headers.get('etag')).not.to.equal(etag);
  });

  it('rejects bytes that are not an image with 415', async () => {
    const res = await upload(
      alice,
      alice.id,
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      'image/png',
    );
    expectProblem(res, 415, 'unsupported-media-type');
  });

  it('rejects an empty body with 415', async () => {
    expectProblem(await upload(alice, alice.id, new Uint8Array(0)), 415);
  });

  it('rejects an image over 1 MiB with 413', async () => {
    const big = Buffer.concat([IMAGES['image/png'], Buffer.alloc(1024 * 1024)]);
    expectProblem(await upload(alice, alice.id, big), 413, 'payload-too-large');
  });

  it('accepts an image of exactly 1 MiB', async () => {
    const png = IMAGES['image/png'];
    const exact = Buffer.concat([png, Buffer.alloc(1024 * 1024 - png.length)]);
    expect((await upload(bob, bob.id, exact)).status).to.equal(200);
  });

  it("answers 403 to an upload to someone else's account", async () => {
    expectProblem(await upload(alice, bob.id, IMAGES['image/png']), 403, 'forbidden');
  });

  it('answers 404 for a user that does not exist', async () => {
    expectProblem(await upload(alice, '999999', IMAGES['image/png']), 404);
  });

  it('answers 401 without a session', async () => {
    const res = await new Api(t.url).put(`/users/${alice.id}/avatar`, IMAGES['image/png'], {
      'Content-Type': 'image/png',
    });
    expectProblem(res, 401);
  });
});

describe('GET and DELETE /users/{userId}/avatar', () => {
  const t = useServer({ users: ['alice', 'bob'] });
  const { alice, bob } = t.users;

  it('answers 404 for a user without an uploaded avatar', async () => {
    expectProblem(await alice.api.get(`/users/${bob.id}/avatar`), 404, 'not-found');
  });

  it('answers 404 for a user that does not exist', async () => {
    expectProblem(await alice.api.get('/users/999999/avatar'), 404);
  });

  it('answers 401 without a session', async () => {
    expectProblem(await new Api(t.url).get(`/users/${alice.id}/avatar`), 401);
  });

  it("answers 403 to removing someone else's avatar", async () => {
    await upload(bob, bob.id, IMAGES['image/png']);
    expectProblem(await alice.api.delete(`/users/${bob.id}/avatar`), 403, 'forbidden');
    expect((await alice.api.get(`/users/${bob.id}/avatar`)).status).to.equal(200);
  });

  it('removes your avatar with 204, then answers 404', async () => {
    await upload(alice, alice.id, IMAGES['image/jpeg'], 'image/jpeg');
    const res = await alice.api.delete(`/users/${alice.id}/avatar`);
    expect(res.status).to.equal(204);
    expect(res.text).to.equal('');
    expectProblem(await bob.api.get(`/users/${alice.id}/avatar`), 404);
    expect((await bob.api.get(`/users/${alice.id}`)).body.avatarUrl).to.equal(null);
    expectProblem(await alice.api.delete(`/users/${alice.id}/avatar`), 404);
  });

  it('answers 401 to a removal without a session', async () => {
    expectProblem(await new Api(t.url).delete(`/users/${bob.id}/avatar`), 401);
  });

  it('goes away with its account', async () => {
    const carol = await signUp(t.url, 'carol');
    await upload(carol, carol.id, IMAGES['image/gif'], 'image/gif');
    expect((await carol.api.delete(`/users/${carol.id}`)).status).to.equal(204);
    expectProblem(await bob.api.get(`/users/${carol.id}/avatar`), 404);
  });
});
