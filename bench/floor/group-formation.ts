import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { json, listen, liveStream, openDb, readBody } from './common.ts';

// Floor for "group-formation": node:http + better-sqlite3 on a copy of Parley's seeded database
// (FLOOR_DB). GET /events is a live stream for the user whose bearer token it is (FLOOR_TOKENS, a
// JSON file of token → user id read at start: the sessions, without sealing). POST
// /conversations/:id/participants {userIds} writes in one transaction the rows Parley writes — one
// participant.added event naming the newcomers, a membership per newcomer, one conversation.created
// event and its recipients — and then sends the frames Parley sends, each built once: a member gets
// the participant.added, a newcomer the conversation.created.
const db = openDb(process.env.FLOOR_DB!);
const tokens = new Map(
  Object.entries(JSON.parse(readFileSync(process.env.FLOOR_TOKENS!, 'utf8')) as Record<string, number>),
);
const streams = new Map<number, Set<ServerResponse>>();

const selectMembers = db
  .prepare('SELECT user_id FROM memberships WHERE conversation_id = ? AND left_event_id IS NULL')
  .pluck();
const insertEvent = db.prepare('INSERT INTO events (type, conversation_id, data, at) VALUES (?, ?, ?, ?)');
const insertMember = db.prepare(
  `INSERT INTO memberships (conversation_id, user_id, role, joined_at, joined_event_id)
   VALUES (?, ?, 'member', ?, ?)`,
);
const insertRecipient = db.prepare('INSERT INTO event_recipients (user_id, event_id) VALUES (?, ?)');
const touch = db.prepare(
  `UPDATE conversations SET updated_at = ?, last_activity_at = ?, member_count = member_count + ?
   WHERE id = ? RETURNING id, title, created_by, created_at`,
);
const selectFirst = db.prepare(
  `SELECT u.id, u.username, u.display_name, u.avatar_url, m.role FROM memberships m
   JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ? AND m.left_event_id IS NULL
   ORDER BY m.id LIMIT 20`,
);

const frame = (id: number, type: string, at: string, data: string) =>
  `id: ${id}\nevent: ${type}\ndata: {"id":"${id}","type":"${type}","at":"${at}","data":${data}}\n\n`;

interface Participant {
  id: number;
  username: string;
  display_name: string;
  avatar_url: string | null;
  role: string;
}

const admit = db.transaction((conversationId: number, callerId: number, userIds: number[]) => {
  const at = new Date().toISOString();
  const current = selectMembers.all(conversationId) as number[];
  const members = new Set(current);
  const added = [...new Set(userIds)].filter((id) => !members.has(id));
  const data = JSON.stringify({
    conversationId: String(conversationId),
    userIds: added.map(String),
    role: 'member',
    addedBy: String(callerId),
  });
  const addedId = Number(insertEvent.run('participant.added', conversationId, data, at).lastInsertRowid);
  for (const userId of added) insertMember.run(conversationId, userId, at, addedId);
  const c = touch.get(at, at, added.length, conversationId) as {
    id: number;
    title: string;
    created_by: number;
    created_at: string;
  };
  const conversation = JSON.stringify({
    id: String(c.id),
    type: 'group',
    title: c.title,
    participants: (selectFirst.all(conversationId) as Participant[]).map((p) => ({
      id: String(p.id),
      username: p.username,
      displayName: p.display_name,
      avatarUrl: p.avatar_url,
      role: p.role,
    })),
    participantCount: current.length + added.length,
    createdBy: String(c.created_by),
    createdAt: c.created_at,
    updatedAt: at,
    lastMessage: null,
    unreadCount: 0,
    encrypted: false,
    epoch: 0,
    notifications: 'all',
  });
  const createdId = Number(
    insertEvent.run('conversation.created', conversationId, conversation, at).lastInsertRowid,
  );
  for (const userId of added) insertRecipient.run(userId, createdId);
  return {
    current,
    added,
    conversation,
    announced: frame(addedId, 'participant.added', at, data),
    created: frame(createdId, 'conversation.created', at, conversation),
  };
});

const writeTo = (userId: number, text: string) => {
  for (const s of streams.get(userId) ?? []) s.write(text);
};

listen(async (req, res) => {
  if (req.method === 'GET' && req.url === '/health') return json(res, 200, '{"status":"ok"}');
  const userId = tokens.get(req.headers.authorization?.slice('Bearer '.length) ?? '');
  if (userId === undefined) return json(res, 401, '{}');
  if (req.method === 'GET' && req.url?.startsWith('/events')) {
    const own = streams.get(userId) ?? new Set();
    streams.set(userId, own);
    return liveStream(req, res, own);
  }
  const match = /^\/conversations\/(\d+)\/participants$/.exec(req.url ?? '');
  if (req.method === 'POST' && match) {
    const { userIds } = JSON.parse(await readBody(req)) as { userIds: string[] };
    const r = admit(Number(match[1]), userId, userIds.map(Number));
    json(res, 200, r.conversation);
    for (const m of r.current) writeTo(m, r.announced);
    for (const a of r.added) writeTo(a, r.created);
    return;
  }
  json(res, 404, '{}');
});
