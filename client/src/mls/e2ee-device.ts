import type { ClientState } from 'ts-mls';
import type { ParleyApi } from '../api.ts';
import type { ParleyEvent } from '../events/types.ts';
import { utf8 } from './bytes.ts';
import { type CommitBody, DeliveryError, delivery, type SentMessage, unwrap } from './delivery.ts';
import { MlsGroup, type PendingCommit } from './group.ts';
import { GroupBusy } from './group-busy.ts';
import { createIdentity, type DeviceIdentity, KeyPackageStore, publicKeysOf } from './identity.ts';
import { CIPHER_SUITE_ID } from './suite.ts';

/** A message of an encrypted conversation, as this device read it. */
export type DecryptedMessage = {
  conversationId: string;
  messageId: string;
  senderId: string;
  createdAt: string;
  /** Sent by this very device (MLS does not let a sender decrypt its own message: kept from the send). */
  own: boolean;
} & ({ text: string; error?: undefined } | { text?: undefined; error: Error });

export interface E2eeDeviceOptions {
  /** The client of this device's session (its token belongs to `deviceId`). */
  api: ParleyApi;
  userId: string;
  deviceId: string;
  /** Each message read from an encrypted conversation, in the conversation's order. */
  onMessage?(message: DecryptedMessage): void | Promise<void>;
  /**
   * The persistence hook: called with a group's new state after every change (a message sent or
   * read, a commit applied). Store it with ts-mls's `encodeGroupState` beside the subscription's
   * cursor; the state lives in memory otherwise.
   */
  onGroupState?(conversationId: string, state: ClientState): void | Promise<void>;
  /**
   * A welcome or commit this device could not apply (a forged or corrupt one, a gap in the
   * conversation's epochs). The event is skipped and the stream goes on; a device whose group fell
   * behind can leave it and join again with `joinExternal`. Default: rethrow, which stops the
   * subscription (and a new one delivers the event again).
   */
  onError?(error: Error, event: ParleyEvent): void | Promise<void>;
  /** One-time key packages kept waiting on the server. Default 20 (the server warns under 10). */
  keyPackages?: number;
}

interface CommitData {
  conversationId: string;
  epoch: number;
  commit: string;
}
interface WelcomeData {
  conversationId: string;
  epoch: number;
  welcome: string;
  deviceIds: string[];
}

// A commit refused this many times in a row (each time another device won the epoch) is given up:
// the group is that busy, or something is wrong.
const MAX_COMMIT_ATTEMPTS = 20;

/**
 * One device's end-to-end encryption client: Parley is the MLS Delivery Service, this is the MLS
 * client (RFC 9420, on ts-mls). It publishes the device's keys, keeps key packages waiting on the
 * server, creates encrypted conversations, encrypts what it sends, and reads the event stream —
 * hand it every event from `subscribe()` with `handle` — applying commits and welcomes in order and
 * decrypting messages.
 *
 * Commits race: every member device may commit at an epoch, the server takes the first and answers
 * the others 409 with `currentEpoch`; a loser waits until its stream has brought it to that epoch
 * and makes its commit again.
 */
export class E2eeDevice {
  readonly #groups = new Map<string, MlsGroup>();
  readonly #busy = new GroupBusy();
  /** Plaintexts of this device's own messages, by clientMessageId, until their event is read. */
  readonly #sent = new Map<string, string>();
  #sentCounter = 0;

  private constructor(
    private readonly options: E2eeDeviceOptions,
    readonly identity: DeviceIdentity,
    readonly keyPackages: KeyPackageStore,
  ) {}

  /**
   * Creates the device's MLS identity, publishes it (`PUT /devices/{id}/keys`) and uploads key
   * packages and a last-resort one.
   */
  static async register(options: E2eeDeviceOptions): Promise<E2eeDevice> {
    const identity = await createIdentity({ userId: options.userId, deviceId: options.deviceId });
    const device = new E2eeDevice(options, identity, await KeyPackageStore.for(identity));
    unwrap(
      'PUT /devices/{id}/keys',
      await delivery.setKeys(options.api, options.deviceId, {
        cipherSuite: CIPHER_SUITE_ID,
        ...publicKeysOf(identity),
      }),
    );
    const [lastResort] = await device.keyPackages.generate(1, { lastResort: true });
    await device.#upload(device.#target, lastResort);
    return device;
  }

  get userId(): string {
    return this.options.userId;
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  get #target(): number {
    return this.options.keyPackages ?? 20;
  }

  /** The group of a conversation this device is in, if it has joined it. */
  group(conversationId: string): MlsGroup | undefined {
    return this.#groups.get(conversationId);
  }

  /** The MLS epoch this device is at in a conversation (undefined if not in its group). */
  epoch(conversationId: string): number | undefined {
    const group = this.#groups.get(conversationId);
    return group ? Number(group.epoch) : undefined;
  }

  /** Uploads fresh key packages until `keyPackages` wait on the server (`left` wait now). */
  async topUpKeyPackages(left: number): Promise<void> {
    if (left < this.#target) await this.#upload(this.#target - left);
  }

  async #upload(count: number, lastResort?: string): Promise<void> {
    const keyPackages = await this.keyPackages.generate(count);
    unwrap(
      'POST /devices/{id}/key-packages',
      await delivery.uploadKeyPackages(this.options.api, this.deviceId, {
        keyPackages,
        ...(lastResort ? { lastResort } : {}),
      }),
    );
  }

  /**
   * Creates an encrypted conversation with these users and its MLS group: claims a key package for
   * each of their devices (and this user's other devices), and sends the commit that adds them all,
   * with its Welcome. Devices without keys join later by external commit.
   */
  async createConversation(participantIds: string[], title?: string): Promise<string> {
    const { api } = this.options;
    const created = unwrap(
      'POST /conversations',
      await delivery.createConversation(api, {
        participantIds,
        ...(title ? { title } : {}),
        encrypted: true,
      }),
    );
    const conversationId = created.id;
    await this.#busy.run(conversationId, async () => {
      const group = await MlsGroup.create(conversationId, this.keyPackages, (s) =>
        this.#persist(conversationId, s),
      );
      this.#groups.set(conversationId, group);
    });
    const userIds = [...new Set([...participantIds, this.userId])];
    await this.#commitWithRetry(conversationId, async () => {
      const claimed = unwrap('POST /key-packages/claim', await delivery.claim(api, userIds));
      // The participants are members already; naming them in `add` is what sends them the welcome.
      return {
        add: claimed.keyPackages.map((k) => k.keyPackage),
        addUsers: [...new Set(claimed.keyPackages.map((k) => k.userId))],
      };
    });
    return conversationId;
  }

  /** Adds users (all their devices with keys) to an encrypted conversation, by one commit. */
  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.#commitWithRetry(conversationId, async () => {
      const claimed = unwrap('POST /key-packages/claim', await delivery.claim(this.options.api, userIds));
      return { add: claimed.keyPackages.map((k) => k.keyPackage), addUsers: userIds };
    });
  }

  /** Removes users (every leaf of theirs) from an encrypted conversation, by one commit. */
  async removeMembers(conversationId: string, userIds: string[]): Promise<void> {
    await this.#commitWithRetry(conversationId, async (group) => {
      const leaves = group
        .members()
        .filter((m) => userIds.includes(m.userId))
        .map((m) => m.leafIndex);
      return { removeLeaves: leaves, removeUsers: userIds };
    });
  }

  /** A commit that changes no membership: refreshes this device's keys (post-compromise security). */
  async update(conversationId: string): Promise<{ epoch: number; conflicts: number }> {
    return this.#commitWithRetry(conversationId, async () => ({}));
  }

  /**
   * Joins the group of an encrypted conversation this user is in but this device is not (a new
   * device, one without key packages when the group was made): by external commit, from the
   * GroupInfo the server keeps. Retried at the newer GroupInfo when another commit won the epoch.
   */
  async joinExternal(conversationId: string): Promise<{ epoch: number; conflicts: number }> {
    const { api } = this.options;
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const info = unwrap(
        'GET /conversations/{id}/group-info',
        await delivery.groupInfo(api, conversationId),
      );
      const groupInfo = info.groupInfo;
      if (groupInfo === null) throw new Error(`conversation ${conversationId} has no GroupInfo yet`);
      const outcome = await this.#busy.run(conversationId, async () => {
        const { group, commit } = await MlsGroup.joinExternal(groupInfo, this.keyPackages, (s) =>
          this.#persist(conversationId, s),
        );
        const answer = await delivery.commit(api, conversationId, this.#commitBody(commit));
        if (!answer.ok) return answer;
        this.#groups.set(conversationId, group);
        await this.#persist(conversationId, group.state);
        return answer;
      });
      if (outcome.ok) return { epoch: outcome.data.epoch, conflicts: attempt };
      if (outcome.status !== 409)
        throw new DeliveryError('POST /conversations/{id}/commits', outcome.status, outcome.problem);
    }
    throw new Error(`gave up joining conversation ${conversationId}: ${MAX_COMMIT_ATTEMPTS} commits refused`);
  }

  /** Encrypts and sends a text message. */
  async send(conversationId: string, text: string): Promise<SentMessage> {
    const clientMessageId = `${this.deviceId}-${Date.now().toString(36)}-${++this.#sentCounter}`;
    return this.#busy.run(conversationId, async () => {
      const group = this.#requireGroup(conversationId);
      const ciphertext = await group.encrypt(utf8.encode(text));
      this.#sent.set(clientMessageId, text);
      const sent = await delivery.send(this.options.api, conversationId, { ciphertext, clientMessageId });
      if (!sent.ok) this.#sent.delete(clientMessageId);
      return unwrap('POST /conversations/{id}/message', sent);
    });
  }

  /**
   * Decrypts a message's ciphertext outside the stream (history from GET /conversations/{id}):
   * only messages of epochs this device still holds keys for decrypt, and each only once.
   */
  async decrypt(conversationId: string, ciphertext: string): Promise<string> {
    return this.#busy.run(conversationId, async () => {
      const processed = await this.#requireGroup(conversationId).process(ciphertext);
      if (processed.kind !== 'application') throw new Error('not an application message');
      return utf8.decode(processed.plaintext);
    });
  }

  /**
   * Hand every event of the device's subscription here, in order (`subscribe({onEvent: (e) =>
   * device.handle(e)})`): welcomes join groups, commits move them on, messages are decrypted and
   * passed to `onMessage`, `key-packages.low` uploads more. Other events are left to the app.
   */
  async handle(event: ParleyEvent): Promise<void> {
    const { type } = event;
    const data = (event as { data?: unknown }).data;
    if (type === 'mls.welcome' || type === 'mls.commit') {
      try {
        if (type === 'mls.welcome') await this.#onWelcome(data as WelcomeData);
        else await this.#onCommit(data as CommitData);
      } catch (err) {
        if (!this.options.onError) throw err;
        await this.options.onError(err instanceof Error ? err : new Error(String(err)), event);
      }
    } else if (type === 'message.created') await this.#onMessage(data as SentMessage);
    else if (type === 'key-packages.low') {
      const low = data as { deviceId: string; keyPackagesLeft: number };
      if (low.deviceId === this.deviceId) await this.topUpKeyPackages(low.keyPackagesLeft);
    }
  }

  /** Resolves once this device's group of a conversation is at `epoch` or later. */
  untilEpoch(conversationId: string, epoch: number): Promise<void> {
    return this.#busy.until(conversationId, () => (this.epoch(conversationId) ?? -1) >= epoch);
  }

  async #onWelcome(data: WelcomeData): Promise<void> {
    if (!data.deviceIds.includes(this.deviceId)) return;
    await this.#busy.run(data.conversationId, async () => {
      // Already in the group (its creator, or joined by external commit meanwhile).
      if (this.#groups.has(data.conversationId)) return;
      const group = await MlsGroup.join(data.welcome, this.keyPackages, (s) =>
        this.#persist(data.conversationId, s),
      );
      if (group) this.#groups.set(data.conversationId, group);
    });
  }

  async #onCommit(data: CommitData): Promise<void> {
    await this.#busy.run(data.conversationId, async () => {
      const group = this.#groups.get(data.conversationId);
      // Commits from before this device joined, and its own (applied when the server took them).
      if (!group || BigInt(data.epoch) < group.epoch) return;
      const processed = await group.process(data.commit);
      if (processed.kind === 'commit' && processed.removedSelf) this.#groups.delete(data.conversationId);
    });
  }

  async #onMessage(data: SentMessage): Promise<void> {
    if (typeof data.ciphertext !== 'string') return;
    const base = {
      conversationId: data.conversationId,
      messageId: data.id,
      senderId: data.senderId,
      createdAt: data.createdAt,
    };
    const ownText = data.clientMessageId !== null ? this.#sent.get(data.clientMessageId) : undefined;
    if (ownText !== undefined && data.senderId === this.userId) {
      this.#sent.delete(data.clientMessageId as string);
      await this.options.onMessage?.({ ...base, own: true, text: ownText });
      return;
    }
    const ciphertext = data.ciphertext;
    const read = await this.#busy.run(data.conversationId, async () => {
      const group = this.#groups.get(data.conversationId);
      if (!group) return { error: new Error('this device is not in the group of this conversation') };
      try {
        const processed = await group.process(ciphertext);
        if (processed.kind !== 'application') return { error: new Error('not an application message') };
        return { text: utf8.decode(processed.plaintext) };
      } catch (err) {
        return { error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    await this.options.onMessage?.({ ...base, own: false, ...read } as DecryptedMessage);
  }

  /**
   * Makes a commit at the group's current epoch and posts it; on 409 (another device's commit took
   * the epoch) waits until the stream has applied the epochs up to `currentEpoch`, then makes it
   * again — `change` is asked anew each time, since membership may have moved meanwhile.
   */
  async #commitWithRetry(
    conversationId: string,
    change: (group: MlsGroup) => Promise<{
      add?: string[];
      removeLeaves?: number[];
      addUsers?: string[];
      removeUsers?: string[];
    }>,
  ): Promise<{ epoch: number; conflicts: number }> {
    for (let conflicts = 0; conflicts < MAX_COMMIT_ATTEMPTS; conflicts++) {
      const outcome = await this.#busy.run(conversationId, async () => {
        const group = this.#requireGroup(conversationId);
        const wanted = await change(group);
        const pending = await group.commit({
          ...(wanted.add ? { add: wanted.add } : {}),
          ...(wanted.removeLeaves ? { removeLeaves: wanted.removeLeaves } : {}),
        });
        const answer = await delivery.commit(this.options.api, conversationId, {
          ...this.#commitBody(pending),
          // A welcome and the users it is for go together (no key package claimed: no welcome).
          ...(pending.welcome && wanted.addUsers?.length ? { add: wanted.addUsers } : {}),
          ...(wanted.removeUsers?.length ? { remove: wanted.removeUsers } : {}),
        });
        if (answer.ok) await group.apply(pending);
        else group.discardPending();
        return answer;
      });
      if (outcome.ok) return { epoch: outcome.data.epoch, conflicts };
      const current = outcome.problem.currentEpoch;
      if (outcome.status !== 409 || current === undefined) {
        throw new DeliveryError('POST /conversations/{id}/commits', outcome.status, outcome.problem);
      }
      // The winning commit reaches this device through its stream, in order: wait for it.
      await this.untilEpoch(conversationId, current);
    }
    throw new Error(
      `gave up committing in conversation ${conversationId}: ${MAX_COMMIT_ATTEMPTS} commits refused`,
    );
  }

  #commitBody(pending: PendingCommit): CommitBody {
    return {
      epoch: Number(pending.epoch),
      commit: pending.commit,
      ...(pending.welcome ? { welcome: pending.welcome } : {}),
      groupInfo: pending.groupInfo,
    };
  }

  #requireGroup(conversationId: string): MlsGroup {
    const group = this.#groups.get(conversationId);
    if (!group) throw new Error(`this device is not in the group of conversation ${conversationId}`);
    return group;
  }

  async #persist(conversationId: string, state: ClientState): Promise<void> {
    await this.options.onGroupState?.(conversationId, state);
  }
}
