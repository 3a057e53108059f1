import { expect } from 'chai';
import { utf8 } from '../../client/src/mls/bytes.ts';
import { MlsGroup } from '../../client/src/mls/group.ts';
import { createIdentity, KeyPackageStore } from '../../client/src/mls/identity.ts';
import { decodeKeyPackageMessage, MlsWireError } from '../../client/src/mls/wire.ts';

const device = async (userId: string, deviceId: string) =>
  KeyPackageStore.for(await createIdentity({ userId, deviceId }));

const read = async (group: MlsGroup, message: string) => {
  const processed = await group.process(message);
  if (processed.kind !== 'application')
    throw new Error(`expected an application message, got ${processed.kind}`);
  return utf8.decode(processed.plaintext);
};

describe('client MLS layer (ts-mls, in memory)', () => {
  it('creates a group, welcomes two members, encrypts and decrypts, resolves a commit race, removes and joins by external commit', async () => {
    const [ann, ben, cat] = await Promise.all([device('1', 'a'), device('2', 'b'), device('3', 'c')]);
    const annGroup = await MlsGroup.create('conversation-1', ann);
    const [benPackage] = await ben.generate(2);
    const [catPackage] = await cat.generate(2);
    const adding = await annGroup.commit({ add: [benPackage!, catPackage!] });
    expect(annGroup.epoch, 'a commit is not applied until the server takes it').to.equal(0n);
    await annGroup.apply(adding);
    const benGroup = (await MlsGroup.join(adding.welcome!, ben))!;
    const catGroup = (await MlsGroup.join(adding.welcome!, cat))!;
    expect([annGroup.epoch, benGroup.epoch, catGroup.epoch]).to.deep.equal([1n, 1n, 1n]);
    expect(benGroup.members().map((m) => `${m.userId}:${m.deviceId}`)).to.deep.equal(['1:a', '2:b', '3:c']);
    expect(ben.size, 'the one-time package the welcome used is gone').to.equal(1);

    const hello = await benGroup.encrypt(utf8.encode('hello from ben'));
    expect(await read(annGroup, hello)).to.equal('hello from ben');
    expect(await read(catGroup, hello)).to.equal('hello from ben');

    // Ann and Ben both commit at epoch 1; the Delivery Service takes Ben's.
    const annLoses = await annGroup.commit();
    const benWins = await benGroup.commit();
    await benGroup.apply(benWins);
    expect(await annGroup.process(benWins.commit)).to.deep.equal({
      kind: 'commit',
      epoch: 2n,
      removedSelf: false,
    });
    expect(annGroup.isOwnPending(annLoses.commit), 'the losing commit is void').to.equal(false);
    await catGroup.process(benWins.commit);

    const catLeaf = annGroup.members().find((m) => m.userId === '3')!.leafIndex;
    const removing = await annGroup.commit({ removeLeaves: [catLeaf] });
    await annGroup.apply(removing);
    await benGroup.process(removing.commit);
    const secret = await annGroup.encrypt(utf8.encode('cat is gone'));
    expect(await read(benGroup, secret)).to.equal('cat is gone');
    let catRead: string | undefined;
    try {
      catRead = await read(catGroup, secret);
    } catch {}
    expect(catRead, 'the removed member reads a message of the next epoch').to.equal(undefined);

    const benTablet = await device('2', 'b2');
    const joined = await MlsGroup.joinExternal(await annGroup.groupInfo(), benTablet);
    expect(joined.commit.epoch).to.equal(3n);
    await annGroup.process(joined.commit.commit);
    await benGroup.process(joined.commit.commit);
    const fromTablet = await joined.group.encrypt(utf8.encode('from the tablet'));
    expect(await read(annGroup, fromTablet)).to.equal('from the tablet');
    expect(await read(benGroup, fromTablet)).to.equal('from the tablet');
    expect(annGroup.members().map((m) => m.deviceId)).to.deep.equal(['a', 'b', 'b2']);
  });

  it('refuses bytes that are not the MLS object expected', () => {
    expect(() => decodeKeyPackageMessage('not base64!')).to.throw(MlsWireError);
    expect(() => decodeKeyPackageMessage(btoa('hello'))).to.throw(MlsWireError);
  });
});
