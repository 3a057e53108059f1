import type { ServerResponse } from 'node:http';
import { json, listen, liveStream, messageJson, openDb, readBody } from './common.ts';

// Floor for "one-to-one": a 1:1 conversation with delivered receipts, the least a server must do
// for the same wire behaviour as Parley. POST /conversations/:id/message inserts the message (one
// INSERT) and writes its frame, built once, to both users' SSE streams and waiting polls. A frame
// handed to the receiver's stream, or a poll cursor passed back after it, marks the message
// delivered; every DELIVERY_FLUSH_MS the newest mark is written (one UPDATE) and a receipt.updated
// event goes to the sender. Users are told apart by token: FLOOR_SENDER_TOKEN is the sender, any
// other the receiver. Events live in memory (the newest LOG_KEEP per user).
const db = openDb(process.env.FLOOR_DB!);
const conversationId = Number(process.env.FLOOR_CONVERSATION_ID);
const senderId = Number(process.env.FLOOR_SENDER_ID);
const receiverId = Number(process.env.FLOOR_RECEIVER_ID);
const senderToken = process.env.FLOOR_SENDER_TOKEN!;
const flushMs = Number(process.env.DELIVERY_FLUSH_MS ?? 1000);
const LOG_KEEP = 10_000;

const insert = db.prepare(
  `INSERT INTO messages (conversation_id, sender_id, body, client_message_id, created_at)
   VALUES (?, ?, ?, ?, ?) RETURNING id, conversation_id, sender_id, body, client_message_id, created_at, edited_at`,
);
const markDelivered = db.prepare(
  'UPDATE memberships SET last_delivered_message_id = ? WHERE conversation_id = ? AND user_id = ? AND left_event_id IS NULL',
);

interface Logged {
  id: number;
  messageId: number;
  json: string;
}
interface Waiting {
  res: ServerResponse;
  timer: NodeJS.Timeout;
  after: number;
}
interface UserFeed {
  log: Logged[];
  streams: Set<ServerResponse>;
  waiting: Set<Waiting>;
}
const feeds = new Map<number, UserFeed>([
  [senderId, { log: [], streams: new Set(), waiting: new Set() }],
  [receiverId, { log: [], streams: new Set(), waiting: new Set() }],
]);
let nextEventId = 1;
let delivered = 0;
let flushed = 0;

const after = (feed: UserFeed, cursor: number): Logged[] => {
  let i = feed.log.length;
  while (i > 0 && feed.log[i - 1]!.id > cursor) i--;
  return feed.log.slice(i);
};
const answer = (res: ServerResponse, events: Logged[], cursor: number) =>
  json(
    res,
    200,
    `{"events":[${events.map((e) => e.json).join(',')}],"cursor":"${events.at(-1)?.id ?? cursor}"}`,
  );

/** Appends an event to a user's feed: their streams get the frame, their waiting polls an answer. */
function publish(userId: number, event: Logged, type: string): void {
  const feed = feeds.get(userId)!;
  feed.log.push(event);
  if (feed.log.length > LOG_KEEP * 2) feed.log.splice(0, LOG_KEEP);
  const frame = `id: ${event.id}\nevent: ${type}\ndata: ${event.json}\n\n`;
  for (const s of feed.streams) s.write(frame);
  if (userId === receiverId && feed.streams.size && event.messageId > delivered) delivered = event.messageId;
  for (const w of feed.waiting) {
    clearTimeout(w.timer);
    answer(w.res, [event], w.after);
  }
  feed.waiting.clear();
}

const flusher = setInterval(() => {
  if (delivered <= flushed) return;
  flushed = delivered;
  markDelivered.run(flushed, conversationId, receiverId);
  const id = nextEventId++;
  const at = new Date().toISOString();
  const data = `{"conversationId":"${conversationId}","userId":"${receiverId}","lastReadMessageId":"0","lastDeliveredMessageId":"${flushed}"}`;
  publish(
    senderId,
    { id, messageId: 0, json: `{"id":"${id}","type":"receipt.updated","at":"${at}","data":${data}}` },
    'receipt.updated',
  );
}, flushMs);

const userOf = (auth: string | undefined) => (auth === `Bearer ${senderToken}` ? senderId : receiverId);
const route = /^\/conversations\/(\d+)\/message$/;

listen(
  async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://floor');
    if (req.method === 'GET' && url.pathname === '/health') return json(res, 200, '{"status":"ok"}');
    const feed = feeds.get(userOf(req.headers.authorization))!;
    if (req.method === 'GET' && url.pathname === '/events') {
      return liveStream(req, res, feed.streams);
    }
    if (req.method === 'GET' && url.pathname === '/events/poll') {
      const head = nextEventId - 1;
      const cursor = url.searchParams.has('cursor') ? Number(url.searchParams.get('cursor')) : head;
      // Passing a cursor back acknowledges every event up to it.
      if (feed === feeds.get(receiverId)) {
        for (let i = feed.log.length - 1; i >= 0; i--) {
          const e = feed.log[i]!;
          if (e.id > cursor || e.messageId === 0) continue;
          if (e.messageId > delivered) delivered = e.messageId;
          break;
        }
      }
      const timeoutMs = Number(url.searchParams.get('timeout') ?? 25) * 1000;
      const events = after(feed, cursor);
      if (events.length || timeoutMs === 0) return answer(res, events, cursor);
      req.socket.setTimeout(0);
      const w: Waiting = {
        res,
        after: cursor,
        timer: setTimeout(() => {
          feed.waiting.delete(w);
          answer(res, [], cursor);
        }, timeoutMs),
      };
      feed.waiting.add(w);
      res.on('close', () => {
        clearTimeout(w.timer);
        feed.waiting.delete(w);
      });
      return;
    }
    const match = route.exec(url.pathname);
    if (req.method === 'POST' && match) {
      const input = JSON.parse(await readBody(req)) as { body: string; clientMessageId?: string };
      const row = insert.get(
        Number(match[1]),
        senderId,
        input.body,
        input.clientMessageId ?? null,
        new Date().toISOString(),
      ) as { id: number };
      const message = messageJson(row as never);
      const id = nextEventId++;
      const event = {
        id,
        messageId: row.id,
        json: `{"id":"${id}","type":"message.created","at":"${new Date().toISOString()}","data":${message}}`,
      };
      publish(receiverId, event, 'message.created');
      publish(senderId, event, 'message.created');
      res.setHeader('Location', `${url.pathname}/${row.id}`);
      return json(res, 201, message);
    }
    json(res, 404, '{}');
  },
  () => clearInterval(flusher),
);
