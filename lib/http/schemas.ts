import { z } from 'zod';
import 'zod-openapi';
import { ID_PATTERN, toId } from '../util/ids.ts';

// The shapes of the public contract. The same schemas validate requests and generate /openapi.json.

/** A path id: opaque to clients. Anything that is not one of ours becomes 0, which never exists (404). */
// No length limit: a malformed id of any length must get the same 404 as a missing one (Node
// already caps the URL), not a 400 that tells ids and non-ids apart.
export const idParam = z
  .string()
  .transform(toId)
  .meta({ description: 'An opaque id, as returned by the API.', example: '42' });

export const isoTime = z.string().meta({ format: 'date-time', example: '2026-11-25T08:45:23.123Z' });

export const username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "." and "-"');

// One text rule for every text field (issue 12): never NUL or a lone surrogate (stored byte for
// byte it would come back as U+FFFD; PostgreSQL refuses NUL). Single-line fields also refuse C0/C1
// control characters and bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069);
// names people read refuse every invisible format character too, and blanks. Message bodies are
// the one exception: free text, stored exactly as sent (controls and bidi marks included).
const NOT_TEXT = /[\p{Cs}\0]/u;
const FORBIDDEN_TEXT = /[\p{Cs}\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
const TEXT_RULE = 'must be well-formed Unicode without NUL, control characters or bidi overrides';

/** Any single-line text field: the one text rule. */
export const plainText = () => z.string().refine((s) => !FORBIDDEN_TEXT.test(s), TEXT_RULE);

// Characters that render as nothing: whitespace, format characters (zero-width space, joiners),
// combining marks with no base, and the blank-looking letters (Hangul fillers, Braille blank).
const INVISIBLE = /[\s\p{Cf}\p{M}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0\u2800]/gu;
const rendersBlank = (s: string): boolean => s.replace(INVISIBLE, '') === '';

/** A name people read — a display name, a group title: the text rule, trimmed, and never blank. */
export const nameText = (max: number) =>
  z
    .string()
    .transform((s) => s.normalize('NFC').trim())
    .pipe(
      plainText()
        .refine((s) => !/[\p{Cf}\p{Zl}\p{Zp}]/u.test(s), 'must not contain invisible format characters')
        .refine((s) => !rendersBlank(s), 'must not be blank')
        .refine((s) => s.length <= max, `must be at most ${max} characters`),
    );

/** Display names: the name rule, at most 64 characters. */
export const displayName = nameText(64);

export const password = z.string().min(8).max(256);

const characters = (s: string): number => [...s.trim()].length;

/** A message body, for sending and for editing. */
export const messageBody = z
  .string()
  .max(16_000)
  .refine((s) => characters(s) >= 1, 'must not be blank')
  .refine((s) => characters(s) <= 4000, 'must be at most 4000 characters after trimming')
  // The one text rule's minimum: the body is free text otherwise (see NOT_TEXT).
  .refine((s) => !NOT_TEXT.test(s), 'must be well-formed Unicode without NUL characters')
  .meta({
    description:
      '1–4000 characters (Unicode code points) once leading and trailing whitespace is trimmed; stored and returned exactly as sent, untrimmed.',
  });

export const avatarUrl = plainText()
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
    presence: z.enum(['online', 'offline']).nullable().meta({
      description:
        'online while they have an open event stream or polled within PRESENCE_WINDOW_MS; null unless you share a conversation with them (or it is you)',
    }),
    lastSeenAt: isoTime.nullable().meta({
      description:
        'When a connection of theirs was last open; null if never, or unless you share a conversation with them (or it is you)',
    }),
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

/** A member as the participants page shows them: with presence, which big groups do not announce. */
export const ParticipantWithPresence = Participant.extend({
  presence: User.shape.presence,
  lastSeenAt: User.shape.lastSeenAt,
}).meta({ id: 'ParticipantWithPresence' });

export const Message = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    senderId: z.string(),
    body: z
      .string()
      .nullable()
      .meta({ description: 'the text; null in an end-to-end encrypted conversation' }),
    ciphertext: z.string().nullable().meta({
      description:
        'end-to-end encrypted conversations only: the MLS PrivateMessage (an MLSMessage), base64; null otherwise',
    }),
    clientMessageId: z.string().nullable(),
    createdAt: isoTime,
    editedAt: isoTime.nullable(),
  })
  .meta({ id: 'Message' });

/** Participants a Conversation embeds at most: the rest are paged (GET /conversations/{id}/participants). */
export const EMBEDDED_PARTICIPANTS = 20;

export const Conversation = z
  .object({
    id: z.string(),
    type: z.enum(['direct', 'group']),
    title: z.string().nullable(),
    participants: z.array(Participant).meta({
      description: `The longest-standing participants, at most ${EMBEDDED_PARTICIPANTS}; all of them when \`participantCount\` is no more. The rest: GET /conversations/{id}/participants, paged.`,
    }),
    participantCount: z
      .number()
      .int()
      .min(0)
      .meta({ description: 'How many participants it has now, all told.' }),
    createdBy: z.string(),
    createdAt: isoTime,
    updatedAt: isoTime,
    lastMessage: Message.nullable(),
    unreadCount: z.number().int().min(0),
    encrypted: z.boolean().meta({
      description: 'end-to-end encrypted (MLS): messages carry `ciphertext`, membership changes by commit',
    }),
    epoch: z.number().int().min(0).meta({
      description: 'the MLS epoch the server accepts the next commit at (0 and unused when not encrypted)',
    }),
    notifications: z.enum(['all', 'none']).meta({
      description: 'your offline notifications for it: `none` once you muted it (PUT …/notifications)',
    }),
  })
  .meta({
    id: 'Conversation',
    description: `A conversation as the caller sees it. It embeds at most ${EMBEDDED_PARTICIPANTS} participants (so a list's size does not grow with other people's groups); \`participantCount\` says how many there are, and GET /conversations/{id}/participants pages through them all.`,
  });

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
    currentEpoch: z
      .number()
      .int()
      .optional()
      .meta({ description: 'epoch-mismatch only: the epoch the group is at now' }),
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

/** A message id in a query or a body: unlike a path id, a malformed one is a 400 that names it. */
export const messageId = z.string().regex(ID_PATTERN, 'must be a message id').transform(Number);

export const ConversationParams = z.object({ conversationId: idParam });
export const MessageParams = z.object({ conversationId: idParam, messageId: idParam });

/** A device's name, as its owner calls it ("Firefox on the laptop"). */
export const deviceName = displayName.meta({ description: '1–64 characters, no control characters' });

/** What POST /login may say about the device logging in. */
export const LoginDevice = z
  .strictObject({
    id: z.string().max(64).optional().meta({ description: 'One of your devices: the session joins it' }),
    name: deviceName.optional(),
  })
  .meta({
    id: 'LoginDevice',
    description: 'Without `id` (or with one that is not yours) a new device is created.',
  });

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Opaque bytes (an MLS message, key package, credential), as standard base64 with padding: at least
 * one byte and at most `maxBytes` once decoded.
 */
export const base64Bytes = (maxBytes: number, description: string) =>
  z
    .string()
    .min(4, 'must not be empty')
    .max(Math.ceil(maxBytes / 3) * 4, `must decode to at most ${maxBytes} bytes`)
    .regex(BASE64, 'must be standard base64 (A–Z, a–z, 0–9, +, /, with = padding)')
    .refine((s) => Buffer.byteLength(s, 'base64') <= maxBytes, `must decode to at most ${maxBytes} bytes`)
    .meta({ description: `${description}: base64, at most ${maxBytes.toLocaleString('en')} bytes decoded` });

/** MLS cipher suites are 16-bit numbers (RFC 9420 §17.1); 1 is MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519. */
export const cipherSuite = z
  .number()
  .int()
  .min(1)
  .max(0xffff)
  .meta({ description: 'the MLS cipher suite number (RFC 9420 §17.1), e.g. 1', example: 1 });

export const DeviceKeys = z
  .object({
    cipherSuite,
    credential: z.string().meta({ description: "the device's MLS Credential (TLS-serialised), base64" }),
    signatureKey: z.string().meta({ description: "the device's MLS signature public key, base64" }),
    createdAt: isoTime,
  })
  .meta({ id: 'DeviceKeys', description: "A device's MLS identity, published once." });

export const Device = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    createdAt: isoTime,
    lastSeenAt: isoTime.nullable(),
    current: z.boolean().meta({ description: 'whether this is the device of the session asking' }),
    push: z
      .object({
        type: z.enum(['webpush', 'gateway']),
        createdAt: isoTime,
        lastFailureAt: isoTime.nullable(),
        lastFailure: z
          .string()
          .nullable()
          .meta({ description: 'what the push service last answered, if it failed' }),
      })
      .nullable(),
    keys: DeviceKeys.nullable().meta({ description: 'its MLS identity; null until PUT /devices/{id}/keys' }),
    keyPackagesLeft: z
      .number()
      .int()
      .min(0)
      .meta({ description: 'one-time key packages waiting to be claimed (the last-resort one not counted)' }),
  })
  .meta({ id: 'Device' });

export const PublicDevice = z
  .object({ id: z.string(), keys: DeviceKeys.nullable(), createdAt: isoTime })
  .meta({ id: 'PublicDevice' });

export const DeviceParams = z.object({ deviceId: z.string().max(64) });

export const StreamTicket = z
  .object({
    ticket: z.string().meta({ description: 'Opens one stream: `GET /events?ticket=…`. Single use.' }),
    expiresAt: isoTime.meta({ description: 'Unused, it stops working at this time (60 s after issue).' }),
  })
  .meta({
    id: 'StreamTicket',
    example: { ticket: 'kq3Vb9m1yX0d2l7Qe5Zc8Rj4Wn6Ts1Ua0Hf3Gp9Lx2E', expiresAt: '2026-12-05T16:01:00.000Z' },
  });
