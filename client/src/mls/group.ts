import {
  acceptAll,
  type CiphersuiteImpl,
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  emptyPskIndex,
  joinGroup,
  joinGroupExternal,
  makePskIndex,
  type Proposal,
  processMessage,
  zeroOutUint8Array,
} from 'ts-mls';
import { utf8 } from './bytes.ts';
import { type DeviceName, type KeyPackageStore, nameOfCredential } from './identity.ts';
import { cipherSuite } from './suite.ts';
import {
  decodeGroupInfoMessage,
  decodeGroupMessage,
  decodeKeyPackageMessage,
  decodeWelcomeMessage,
  encodeGroupInfoMessage,
  encodeMessage,
  encodePrivateMessage,
  encodePublicMessage,
  encodeWelcomeMessage,
} from './wire.ts';

/** A member of a group: its leaf and the device its credential names. */
export interface GroupMember extends DeviceName {
  leafIndex: number;
}

/**
 * A commit made but not yet applied: the Delivery Service may refuse it (another commit won the
 * epoch), so the group moves to `nextState` only when `apply()` is called, after the server took it.
 */
export interface PendingCommit {
  /** The epoch the commit was made at, which the server must still be at. */
  epoch: bigint;
  /** base64 MLSMessage (a PrivateMessage; a PublicMessage for an external commit). */
  commit: string;
  /** base64 MLSMessage, when the commit adds members. */
  welcome?: string;
  /** base64 MLSMessage: the GroupInfo of the new epoch, with the external public key and the tree. */
  groupInfo: string;
}

/** What an incoming group message turned out to be. */
export type Processed =
  | { kind: 'application'; plaintext: Uint8Array; epoch: bigint }
  | { kind: 'commit'; epoch: bigint; removedSelf: boolean };

export class MlsGroupError extends Error {
  override name = 'MlsGroupError';
}

/**
 * One device's state in one MLS group, on ts-mls. Each operation that moves the state (encrypt,
 * process, apply a commit) replaces it and reports the new one to `onChange`, the hook that
 * persists it. Calls must not overlap: the caller runs them one at a time (E2eeDevice queues them
 * per conversation).
 */
export class MlsGroup {
  #state: ClientState;
  /** States made by commits not yet accepted, by the commit's base64, until apply() or discard. */
  readonly #pending = new Map<string, ClientState>();

  private constructor(
    state: ClientState,
    private readonly cs: CiphersuiteImpl,
    private readonly onChange?: (state: ClientState) => void | Promise<void>,
  ) {
    this.#state = state;
  }

  /** A new group of one (epoch 0), with this device as its only member. */
  static async create(
    groupId: string,
    keys: KeyPackageStore,
    onChange?: (state: ClientState) => void | Promise<void>,
  ): Promise<MlsGroup> {
    const cs = await cipherSuite();
    const own = await keys.fresh();
    const state = await createGroup(utf8.encode(groupId), own.publicPackage, own.privatePackage, [], cs);
    const group = new MlsGroup(state, cs, onChange);
    await group.#changed();
    return group;
  }

  /** Joins from a Welcome made for one of this device's key packages; undefined if it is for others. */
  static async join(
    welcomeBase64: string,
    keys: KeyPackageStore,
    onChange?: (state: ClientState) => void | Promise<void>,
  ): Promise<MlsGroup | undefined> {
    const cs = await cipherSuite();
    const welcome = decodeWelcomeMessage(welcomeBase64);
    const held = keys.takeFor(welcome);
    if (!held) return undefined;
    // The committer puts the ratchet tree in the Welcome (ratchet_tree extension), so none is passed.
    const state = await joinGroup(welcome, held.publicPackage, held.privatePackage, emptyPskIndex, cs);
    const group = new MlsGroup(state, cs, onChange);
    await group.#changed();
    return group;
  }

  /**
   * Joins by external commit (RFC 9420 §12.4.3.2) from a GroupInfo the group published: the new
   * device's own commit adds it. Returns the group (already at the next epoch) and the commit to
   * send; if the Delivery Service refuses it, throw the group away and try again with a newer GroupInfo.
   */
  static async joinExternal(
    groupInfoBase64: string,
    keys: KeyPackageStore,
    onChange?: (state: ClientState) => void | Promise<void>,
  ): Promise<{ group: MlsGroup; commit: PendingCommit }> {
    const cs = await cipherSuite();
    const groupInfo = decodeGroupInfoMessage(groupInfoBase64);
    const own = await keys.fresh();
    const joined = await joinGroupExternal(groupInfo, own.publicPackage, own.privatePackage, false, cs);
    const group = new MlsGroup(joined.newState, cs, onChange);
    return {
      group,
      commit: {
        epoch: groupInfo.groupContext.epoch,
        commit: encodePublicMessage(joined.publicMessage),
        groupInfo: encodeGroupInfoMessage(
          await createGroupInfoWithExternalPubAndRatchetTree(joined.newState, [], cs),
        ),
      },
    };
  }

  get epoch(): bigint {
    return this.#state.groupContext.epoch;
  }

  /** The raw ts-mls state (for inspection and for persisting with ts-mls's encodeGroupState). */
  get state(): ClientState {
    return this.#state;
  }

  /** This device's leaf. */
  get ownLeafIndex(): number {
    return this.#state.privatePath.leafIndex;
  }

  /** The group's members, from the ratchet tree: leaf i is node 2i. */
  members(): GroupMember[] {
    const members: GroupMember[] = [];
    this.#state.ratchetTree.forEach((node, index) => {
      if (index % 2 !== 0 || node?.nodeType !== 'leaf') return;
      const name = nameOfCredential(node.leaf.credential);
      if (name) members.push({ ...name, leafIndex: index / 2 });
    });
    return members;
  }

  /**
   * Makes a commit that adds these key packages (base64 MLSMessages) and removes these leaves,
   * without applying it: see PendingCommit. The Welcome carries the ratchet tree.
   */
  async commit(
    change: { add?: readonly string[]; removeLeaves?: readonly number[] } = {},
  ): Promise<PendingCommit> {
    const proposals: Proposal[] = [
      ...(change.add ?? []).map(
        (kp): Proposal => ({ proposalType: 'add', add: { keyPackage: decodeKeyPackageMessage(kp) } }),
      ),
      ...(change.removeLeaves ?? []).map(
        (removed): Proposal => ({ proposalType: 'remove', remove: { removed } }),
      ),
    ];
    const made = await createCommit(
      { state: this.#state, cipherSuite: this.cs },
      { extraProposals: proposals, ratchetTreeExtension: true },
    );
    if (made.commit.wireformat !== 'mls_private_message' && made.commit.wireformat !== 'mls_public_message') {
      throw new MlsGroupError(`ts-mls made a ${made.commit.wireformat} commit`);
    }
    const commit = encodeMessage(made.commit);
    this.#pending.set(commit, made.newState);
    const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(made.newState, [], this.cs);
    return {
      epoch: this.epoch,
      commit,
      ...(made.welcome ? { welcome: encodeWelcomeMessage(made.welcome) } : {}),
      groupInfo: encodeGroupInfoMessage(groupInfo),
    };
  }

  /** The server took this device's commit: the group moves to the next epoch. */
  async apply(pending: PendingCommit): Promise<void> {
    const next = this.#pending.get(pending.commit);
    if (!next) throw new MlsGroupError('no such pending commit (already applied or discarded)');
    this.#pending.clear();
    this.#state = next;
    await this.#changed();
  }

  /** Whether a commit read from the server is one this device made (and has not applied yet). */
  isOwnPending(commit: string): boolean {
    return this.#pending.has(commit);
  }

  /** Forgets commits the server refused. */
  discardPending(): void {
    this.#pending.clear();
  }

  /** Encrypts an application message for the group's current epoch; returns the base64 MLSMessage. */
  async encrypt(plaintext: Uint8Array): Promise<string> {
    const made = await createApplicationMessage(this.#state, plaintext, this.cs);
    this.#state = made.newState;
    made.consumed.forEach(zeroOutUint8Array);
    await this.#changed();
    return encodePrivateMessage(made.privateMessage);
  }

  /**
   * Processes a group message from another member: decrypts an application message, or applies a
   * commit (the group moves to its epoch). Throws when it cannot (not for this group, an epoch whose
   * keys are gone, a forgery) — the state is left as it was.
   */
  async process(base64: string): Promise<Processed> {
    const message = decodeGroupMessage(base64);
    const before = this.epoch;
    const result = await processMessage(
      message,
      this.#state,
      makePskIndex(this.#state, {}),
      acceptAll,
      this.cs,
    );
    this.#state = result.newState;
    result.consumed.forEach(zeroOutUint8Array);
    await this.#changed();
    if (result.kind === 'applicationMessage') {
      return { kind: 'application', plaintext: result.message, epoch: this.epoch };
    }
    // Another member's commit took the epoch: commits this device made at the old one are void.
    this.#pending.clear();
    const removedSelf = this.#state.groupActiveState.kind !== 'active';
    if (!removedSelf && this.epoch === before)
      throw new MlsGroupError('the message was neither a commit nor application data');
    return { kind: 'commit', epoch: this.epoch, removedSelf };
  }

  /** The GroupInfo of the current epoch, for a new device of a member to join by external commit. */
  async groupInfo(): Promise<string> {
    return encodeGroupInfoMessage(
      await createGroupInfoWithExternalPubAndRatchetTree(this.#state, [], this.cs),
    );
  }

  async #changed(): Promise<void> {
    await this.onChange?.(this.#state);
  }
}
