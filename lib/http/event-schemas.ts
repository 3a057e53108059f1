import { z } from 'zod';
import type { EphemeralEventType } from '../events/bus.ts';
import type { LoggedEventType } from '../store/events.ts';
import { SAMPLES } from './examples.ts';
import { Conversation, isoTime, Message, Participant, User } from './schemas.ts';

/**
 * The events of GET /events (SSE frames' `data:`) and GET /events/poll (`events[]`): one schema per
 * type, `type` the discriminator. The Record below makes the compiler insist on a schema for every
 * type the server can emit (the log's, the ephemeral ones and `reset`).
 */

const id = z.string().meta({ description: 'The cursor of this event: resume after it' });

const event = <T extends string, D extends z.ZodType>(
  type: T,
  data: D,
  description: string,
  exampleData: z.output<D>,
  logged = true,
) =>
  z
    .object({
      ...(logged ? { id } : {}),
      type: z.literal(type),
      at: isoTime,
      data,
    })
    .meta({
      id: `${type
        .split('.')
        .map((w) => w[0]!.toUpperCase() + w.slice(1))
        .join('')}Event`,
      description,
      examples: [{ ...(logged ? { id: SAMPLES.eventCursor } : {}), type, at: SAMPLES.at, data: exampleData }],
    });

const ConversationUpdate = Conversation.omit({
  lastMessage: true,
  unreadCount: true,
  epoch: true,
  notifications: true,
}).extend({
  updatedBy: z.string(),
});

const EVENT_SCHEMAS = {
  'message.created': event('message.created', Message, 'A message was sent', SAMPLES.message as never),
  'message.updated': event('message.updated', Message, 'A message was edited', SAMPLES.message as never),
  'message.deleted': event(
    'message.deleted',
    z.object({ conversationId: z.string(), messageId: z.string() }),
    'A message was deleted',
    { conversationId: '12', messageId: '1042' },
  ),
  'conversation.created': event(
    'conversation.created',
    Conversation,
    'You were added to a conversation (or created one)',
    SAMPLES.conversation as never,
  ),
  'conversation.updated': event(
    'conversation.updated',
    ConversationUpdate,
    'A conversation was renamed or its members or roles changed',
    (({ lastMessage: _m, unreadCount: _u, epoch: _e, notifications: _n, ...c }) => ({
      ...c,
      updatedBy: '7',
    }))(SAMPLES.conversation) as never,
  ),
  'participant.added': event(
    'participant.added',
    z.object({
      conversationId: z.string(),
      userIds: z.array(z.string()).min(1).meta({
        description: 'Everyone the one request added (up to 1,000), in the order it named them',
      }),
      role: Participant.shape.role,
      addedBy: z.string(),
    }),
    'People joined a conversation you are in: one event for everyone one request (or MLS commit) added',
    { conversationId: '12', userIds: ['9', '10'], role: 'member', addedBy: '7' },
  ),
  'participant.removed': event(
    'participant.removed',
    z.object({
      conversationId: z.string(),
      userId: z.string(),
      removedBy: z.string().optional().meta({ description: 'Absent when they deleted their account' }),
    }),
    'Someone left or was removed from a conversation you are in (you, too: your last event of it)',
    { conversationId: '12', userId: '9', removedBy: '7' },
  ),
  'receipt.updated': event(
    'receipt.updated',
    z.object({
      conversationId: z.string(),
      userId: z.string(),
      lastReadMessageId: z.string().nullable(),
      lastDeliveredMessageId: z.string().nullable(),
    }),
    'A member’s read or delivered mark moved',
    SAMPLES.receipt,
  ),
  'user.updated': event(
    'user.updated',
    User,
    'You or a contact changed their profile',
    SAMPLES.user as never,
  ),
  'user.deleted': event('user.deleted', z.object({ userId: z.string() }), 'A contact deleted their account', {
    userId: '8',
  }),
  'device.added': event(
    'device.added',
    z.object({ userId: z.string(), deviceId: z.string() }),
    "You signed in on a new device; or someone you share an encrypted conversation with published a new device's keys",
    { userId: '7', deviceId: '3' },
  ),
  'device.removed': event(
    'device.removed',
    z.object({ userId: z.string(), deviceId: z.string() }),
    'One of your devices was signed out, or one of someone you share an encrypted conversation with (remove it from the group with a commit)',
    { userId: '7', deviceId: '3' },
  ),
  'key-packages.low': event(
    'key-packages.low',
    z.object({ deviceId: z.string(), keyPackagesLeft: z.number().int().min(0) }),
    'One of your devices is running out of key packages (under 10 left, or none): it should upload more',
    { deviceId: 'q2Vz0Xb1LmA4dP7sKf9wJg', keyPackagesLeft: 9 },
  ),
  'mls.commit': event(
    'mls.commit',
    z.object({
      conversationId: z.string(),
      epoch: z
        .number()
        .int()
        .min(0)
        .meta({ description: 'the epoch the commit was made in; the group is at epoch + 1 after it' }),
      commit: z.string().meta({ description: 'the MLS Commit (an MLSMessage), base64' }),
      committedBy: z.string().meta({ description: 'the user who posted it' }),
    }),
    'An MLS commit was accepted in an encrypted conversation: apply it before any later message',
    { conversationId: '12', epoch: 3, commit: 'AAEAAg…', committedBy: '7' },
  ),
  'mls.welcome': event(
    'mls.welcome',
    z.object({
      conversationId: z.string(),
      epoch: z.number().int().min(0).meta({ description: 'the epoch the welcome joins the group at' }),
      welcome: z.string().meta({ description: 'the MLS Welcome (an MLSMessage), base64' }),
      deviceIds: z
        .array(z.string())
        .meta({ description: "the added user's devices that had keys when the commit was accepted" }),
    }),
    'You were added to an encrypted conversation: join the MLS group with this welcome',
    { conversationId: '12', epoch: 4, welcome: 'AAEAAw…', deviceIds: ['q2Vz0Xb1LmA4dP7sKf9wJg'] },
  ),
  'presence.updated': event(
    'presence.updated',
    z.object({ userId: z.string(), presence: z.enum(['online', 'offline']), lastSeenAt: isoTime }),
    'You or someone you share a conversation with came online or went offline. Kept in the log for a few minutes only (PRESENCE_EVENTS_KEPT_MS): a client resuming within that — a long-poll client re-polling, an SSE client reconnecting — gets every transition it missed, once; an older cursor just misses old transitions (User objects carry the current state)',
    { userId: '8', presence: 'online', lastSeenAt: SAMPLES.at },
  ),
  typing: event(
    'typing',
    z.object({ conversationId: z.string(), userId: z.string(), expiresAt: isoTime }),
    'Someone is typing in a conversation (ephemeral: no id, not replayed)',
    { conversationId: '12', userId: '8', expiresAt: SAMPLES.at },
    false,
  ),
  reset: event(
    'reset',
    z.object({}),
    'Your cursor was older than the retention: refetch state, then go on from this id',
    {},
  ),
} satisfies Record<LoggedEventType | EphemeralEventType | 'reset', z.ZodType>;

export type EventType = keyof typeof EVENT_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

const [first, ...rest] = Object.values(EVENT_SCHEMAS);
export const Event = z.discriminatedUnion('type', [first!, ...rest]).meta({
  id: 'Event',
  description: 'One event: its `type` says what `data` holds.',
  examples: [{ id: SAMPLES.eventCursor, type: 'message.created', at: SAMPLES.at, data: SAMPLES.message }],
});
