import { expect } from 'chai';
import { blob, keyedDevice, newDevice } from '../e2ee/mls.ts';
import { type ChildServer, useTwoNodes } from '../helpers/child-server.ts';
import { Api, signUp, type TestUser } from '../helpers/client.ts';
import { describeOnPostgres } from '../helpers/postgres.ts';

// The MLS Delivery Service's two promises under concurrency on several nodes of one PostgreSQL:
// exactly one commit per epoch, and each key package handed out at most once.

describeOnPostgres('MLS Delivery Service on two Parley nodes', function () {
  this.timeout(120_000);
  const { a, b } = useTwoNodes('parley_e2ee', {
    PRESENCE_ENABLED: 'false',
    DELIVERY_FLUSH_MS: '0',
    PUSH_ENABLED: 'false',
    REGISTRATIONS_PER_WINDOW: '0',
    GROUPS_PER_WINDOW: '0',
    MEMBER_ADDS_PER_WINDOW: '0',
    KEY_PACKAGE_CLAIMS_PER_WINDOW: '0',
  });

  /** A node for the i-th of several calls: every other one goes to node B. */
  const node = (i: number): ChildServer => (i % 2 ? b : a);

  it('accepts exactly one of ten concurrent commits at one epoch sent to two nodes', async () => {
    const [alice, bob, carol] = await Promise.all([
      signUp(a.url, 'alice'),
      signUp(b.url, 'bob'),
      signUp(a.url, 'carol'),
    ]);
    const created = await alice.api.post('/conversations', {
      participantIds: [bob.id, carol.id],
      title: 'secret',
      encrypted: true,
    });
    expect(created.status, created.text).to.equal(201);
    const id = created.body.id;
    const users: TestUser[] = [alice, alice, alice, alice, bob, bob, bob, carol, carol, carol];
    const devices = await Promise.all(users.map((u, i) => newDevice(node(i).url, u)));
    for (const epoch of [0, 1, 2]) {
      const results = await Promise.all(
        devices.map((d) => d.api.post(`/conversations/${id}/commits`, { epoch, commit: blob() })),
      );
      const statuses = results.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        statuses.join(','),
      ).to.have.length(1);
      expect(
        statuses.filter((s) => s === 409),
        statuses.join(','),
      ).to.have.length(9);
      for (const res of results.filter((r) => r.status === 409)) {
        expect(res.body.currentEpoch).to.equal(epoch + 1);
      }
    }
    for (const n of [a, b]) {
      const seen = await new Api(n.url, alice.token).get(`/conversations/${id}`);
      expect(seen.body.conversation.epoch).to.equal(3);
    }
  });

  it('hands each of 10 key packages out at most once under 50 concurrent claims on two nodes', async () => {
    const [dave, claimer] = await Promise.all([signUp(a.url, 'dave'), signUp(b.url, 'claimer')]);
    const device = await keyedDevice(a.url, dave, 10);
    const claims = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        new Api(node(i).url, claimer.token).post('/key-packages/claim', { userIds: [dave.id] }),
      ),
    );
    const handedOut = claims.map((res) => {
      expect(res.status, res.text).to.equal(200);
      expect(res.body.keyPackages).to.have.length(1);
      return res.body.keyPackages[0].keyPackage as string;
    });
    const oneTime = handedOut.filter((p) => p !== device.lastResort);
    expect(new Set(oneTime).size, 'no one-time package twice').to.equal(oneTime.length);
    expect([...oneTime].sort()).to.deep.equal([...device.keyPackages].sort());
    expect(handedOut.filter((p) => p === device.lastResort)).to.have.length(40);
  });
});
