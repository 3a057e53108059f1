import { z } from 'zod';
import 'zod-openapi';

// The shapes of the public contract. The same schemas validate requests and generate /openapi.json.

/** A path id: opaque to clients. Anything that is not one of ours becomes 0, which never exists (404). */
// No length limit: a malformed id of any length must get the same 404 as a missing one (Node
// already caps the URL), not a 400 that tells ids and non-ids apart.
export const idParam = z
  .string()
  .transform((s) => (/^[1-9]\d{0,14}$/.test(s) ? Number(s) : 0))
  .meta({ description: 'An opaque id, as returned by the API.', example: '42' });

export const isoTime = z.string().meta({ format: 'date-time', example: '2026-11-25T08:45:23.123Z' });

export const username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "." and "-"');

/** Display names are free text, but never control characters or a blank. */
export const displayName = z
  .string()
  .transform((s) => s.normalize('NFC').trim())
  .pipe(
    z
      .string()
      .min(1, 'must not be blank')
      .max(64)
      .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, 'must not contain control characters'),
  );

export const password = z.string().min(8).max(256);

const characters = (s: string): number => [...s.trim()].length;

/** A message body, for sending and for editing. */
export const messageBody = z
  .string()
  .max(16_000)
  .refine((s) => characters(s) >= 1, 'must not be blank')
  .refine((s) => characters(s) <= 4000, 'must be at most 4000 characters after trimming')
  // Stored byte for byte: a lone surrogate would come back as U+FFFD, and PostgreSQL refuses NUL.
  .refine((s) => !/[\p{Cs}\0]/u.test(s), 'must be well-formed Unicode without NUL characters')
  .meta({
    description:
      '1–4000 characters (Unicode code points) once leading and trailing whitespace is trimmed; stored and returned exactly as sent, untrimmed.',
  });

export const avatarUrl = z
  .string()
  .max(2048)
  .url()
  .regex(/^https?:\/\//i, 'must be an http(s) URL');

export const User = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    avatarUrl: z.string().nullable(),
    createdAt: isoTime,
    updatedAt: isoTime,
    presence: z.enum(['online', 'offline']).meta({
      description: 'online while they have an open event stream or polled within PRESENCE_WINDOW_MS',
    }),
    lastSeenAt: isoTime
      .nullable()
      .meta({ description: 'When a connection of theirs was last open; null if never' }),
  })
  .meta({ id: 'User' });

export const UserSummary = z
  .object({ id: z.string(), username: z.string(), displayName: z.string(), avatarUrl: z.string().nullable() })
  .meta({ id: 'UserSummary' });

/** A member of a conversation: who they are and what they may do there. */
export const Participant = UserSummary.extend({
  role: z.enum(['owner', 'admin', 'member']).meta({
    description: 'owner and admin add, remove and rename; owner also changes roles',
  }),
}).meta({ id: 'Participant' });

export const Message = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    senderId: z.string(),
    body: z.string(),
    clientMessageId: z.string().nullable(),
    createdAt: isoTime,
    editedAt: isoTime.nullable(),
  })
  .meta({ id: 'Message' });

export const Conversation = z
  .object({
    id: z.string(),
    type: z.enum(['direct', 'group']),
    title: z.string().nullable(),
    participants: z.array(Participant),
    createdBy: z.string(),
    createdAt: isoTime,
    updatedAt: isoTime,
    lastMessage: Message.nullable(),
    unreadCount: z.number().int().min(0),
  })
  .meta({ id: 'Conversation' });

export const eventCursor = z.string().meta({
  description: 'The event position as of this read: open /events or /events/poll from it to miss nothing.',
});

export const Problem = z
  .object({
    type: z.string().meta({ example: 'urn:parley:problem:validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem details object.' });

export const limitParam = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .meta({ description: `1–${max}, default ${fallback}` });
