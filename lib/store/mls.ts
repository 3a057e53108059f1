import type { Executor, Runner } from './db.ts';
import { prepared } from './prepared.ts';

// Asked by every send: built once (lib/store/prepared.ts).
const selectEncryptionStatement = prepared(['conversationId'], (db, p) =>
  db('conversations').first('encrypted', 'epoch').where({ id: p.conversationId }),
);

/** Whether a conversation is end-to-end encrypted, and the epoch it accepts the next commit at. */
export async function selectEncryption(
  db: Runner,
  conversationId: number,
): Promise<{ encrypted: boolean; epoch: number } | undefined> {
  const [row] = await selectEncryptionStatement.rows<{ encrypted: unknown; epoch: number | string }>(db, {
    conversationId,
  });
  return row ? { encrypted: Boolean(row.encrypted), epoch: Number(row.epoch) } : undefined;
}

/**
 * Moves the conversation from `epoch` to the next one; false if it was not at `epoch`. Conditional on
 * the epoch itself, so even a writer that skipped the conversation's lock could never accept two
 * commits at one epoch.
 */
export async function advanceEpoch(
  db: Executor,
  conversationId: number,
  epoch: number,
  at: string,
): Promise<boolean> {
  const updated = await db('conversations')
    .where({ id: conversationId, epoch, encrypted: true })
    .update({ epoch: epoch + 1, updated_at: at });
  return Number(updated) === 1;
}

/** Keeps the newest GroupInfo (the one of `epoch`) of a conversation. */
export async function upsertGroupInfo(
  db: Executor,
  conversationId: number,
  epoch: number,
  groupInfo: string,
  at: string,
): Promise<void> {
  await db('mls_group_info')
    .insert({ conversation_id: conversationId, epoch, group_info: groupInfo, updated_at: at })
    .onConflict('conversation_id')
    .merge(['epoch', 'group_info', 'updated_at']);
}

export async function selectGroupInfo(
  db: Executor,
  conversationId: number,
): Promise<{ epoch: number; groupInfo: string } | undefined> {
  const row = await db('mls_group_info')
    .first('epoch', 'group_info')
    .where({ conversation_id: conversationId });
  return row ? { epoch: Number(row.epoch), groupInfo: row.group_info } : undefined;
}
