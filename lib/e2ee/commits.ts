import { memberViewOf } from '../chat/access.ts';
import { admitMembers, assertManager, assertMayRemove, dismissMember } from '../chat/participants.ts';
import type { Config } from '../config.ts';
import type { Store } from '../events/log.ts';
import { commitWithEvents, inConversation } from '../events/log.ts';
import { epochMismatch, invalid, notAGroup, notEncrypted } from '../http/problems.ts';
import type { Executor } from '../store/db.ts';
import { selectKeyedDevicesOf } from '../store/key-directory.ts';
import { selectCurrentMembers } from '../store/memberships.ts';
import { advanceEpoch, selectEncryption, selectGroupInfo, upsertGroupInfo } from '../store/mls.ts';
import { toId } from '../util/ids.ts';
import { nowIso } from '../util/time.ts';

export interface CommitInput {
  /** The epoch the commit was made in: accepted only if it is the conversation's current one. */
  epoch: number;
  commit: string;
  welcome?: string | undefined;
  groupInfo?: string | undefined;
  add?: string[] | undefined;
  remove?: string[] | undefined;
}

/** What can be refused from the body alone, before anything is read (400, nothing changed). */
function checkShape(callerId: number, input: CommitInput): { add: string[]; remove: string[] } {
  const add = [...new Set(input.add ?? [])];
  const remove = [...new Set(input.remove ?? [])];
  const both = add.filter((id) => remove.includes(id));
  if (both.length) {
    throw invalid(`Users both added and removed: ${both.join(', ')}.`, [
      { path: 'remove', message: `also in add: ${both.join(', ')}` },
    ]);
  }
  if ((input.welcome === undefined) !== (add.length === 0)) {
    throw invalid('A commit that adds users carries their welcome, and only such a commit does.', [
      { path: input.welcome === undefined ? 'welcome' : 'add', message: 'welcome and add go together' },
    ]);
  }
  if (remove.map(toId).includes(callerId)) {
    throw invalid(
      'MLS does not let a member commit its own removal: leave with DELETE /conversations/{id}/participants/{yourId}, and another member commits your removal.',
      [{ path: 'remove', message: 'names the caller' }],
    );
  }
  return { add, remove };
}

/**
 * Accepts an MLS commit if it was made at the conversation's current epoch, and moves the epoch on
 * by exactly one, in one transaction under the conversation's lock (the lock every send, edit and
 * membership change of the conversation takes): of any number of commits at one epoch, from any
 * number of nodes, exactly one is accepted; the others get 409 `epoch-mismatch` with the epoch the
 * group is at. The membership change the commit carries happens in the same transaction, by the
 * rules of the participants routes: `add` (owners and admins; users already in are left as they
 * are and get the welcome too — that is how the creator welcomes the participants named at
 * creation) and `remove` (owners and admins; only owners remove owners and admins; users no longer
 * members, e.g. who left, are accepted with no membership change: the commit removes their leaves).
 *
 * Events, in this order in the conversation's log: `mls.commit` to the members before the change
 * (the removed ones too: it is their last event but their `participant.removed`), then
 * `participant.removed` per removed member, `participant.added` and `conversation.created` for
 * newcomers (who do not get the commit: they join at the new epoch by the welcome), and
 * `mls.welcome` to every user in `add`.
 */
export async function postCommit(
  deps: Store & { config: Pick<Config, 'maxGroupMembers'> },
  callerId: number,
  conversationId: number,
  input: CommitInput,
): Promise<{ epoch: number }> {
  const { add, remove } = checkShape(callerId, input);
  const removeIds = new Set(remove.map(toId));
  const at = nowIso();
  return commitWithEvents(inConversation(deps, conversationId), async (trx, record) => {
    const caller = await memberViewOf(trx, conversationId, callerId);
    if (!caller.encrypted) throw notEncrypted();
    const epoch = Number(caller.epoch);
    if (input.epoch !== epoch) throw epochMismatch(epoch);
    if (add.length > 0) assertManager(caller.role);
    const leaving = (await selectCurrentMembers(trx, conversationId)).filter((m) => removeIds.has(m.user_id));
    for (const member of leaving) assertMayRemove(caller.role, member.role);
    if (leaving.length > 0 && caller.type === 'direct') {
      throw notAGroup('A direct conversation has fixed participants: nobody can be removed.');
    }
    // Conditional on the epoch too: never two commits at one epoch, lock or not.
    if (!(await advanceEpoch(trx, conversationId, epoch, at))) {
      throw epochMismatch((await selectEncryption(trx, conversationId))?.epoch ?? epoch);
    }
    await record({
      type: 'mls.commit',
      conversationId,
      data: {
        conversationId: String(conversationId),
        epoch,
        commit: input.commit,
        committedBy: String(callerId),
      },
    });
    for (const member of leaving) {
      await dismissMember(trx, record, {
        conversationId,
        membershipId: member.id,
        userId: member.user_id,
        callerId,
        at,
      });
    }
    if (add.length > 0) {
      const newcomers = await admitMembers(trx, record, {
        conversationId,
        callerId,
        userIds: add,
        maxGroupMembers: deps.config.maxGroupMembers,
        at,
        field: 'add',
      });
      if (newcomers.length > 0 && caller.type === 'direct') {
        throw notAGroup('A direct conversation has fixed participants: start an encrypted group instead.');
      }
      const welcomed = add.map(toId);
      const devices = await selectKeyedDevicesOf(trx, welcomed);
      await record({
        type: 'mls.welcome',
        recipients: welcomed,
        data: {
          conversationId: String(conversationId),
          epoch: epoch + 1,
          welcome: input.welcome,
          deviceIds: devices.map((d) => d.device_id),
        },
      });
    }
    if (input.groupInfo !== undefined) {
      await upsertGroupInfo(trx, conversationId, epoch + 1, input.groupInfo, at);
    }
    return { epoch: epoch + 1 };
  });
}

/**
 * The newest GroupInfo a commit carried, and the epoch it describes, for a member's new device to
 * join by external commit; `groupInfo` null (and `epoch` the current one) until a commit carries one.
 */
export async function getGroupInfo(
  db: Executor,
  callerId: number,
  conversationId: number,
): Promise<{ epoch: number; groupInfo: string | null }> {
  const caller = await memberViewOf(db, conversationId, callerId);
  if (!caller.encrypted) throw notEncrypted();
  const stored = await selectGroupInfo(db, conversationId);
  return stored ?? { epoch: Number(caller.epoch), groupInfo: null };
}
