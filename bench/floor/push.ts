import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import webpush from 'web-push';
import { json, readBody } from './common.ts';

/**
 * The push floor: the least a server must do to notify 1,000 offline devices of a message — answer
 * the POST at once, then send every subscription its encrypted Web Push request with the
 * `web-push` library alone (payload encryption RFC 8291 aes128gcm and the VAPID JWT by its
 * generateRequestDetails; sendNotification speaks only https, the bench's push service is http),
 * over node:http with keep-alive, as many in flight as Parley's PUSH_ORIGIN_CONCURRENCY. No
 * database, no log, no liveness or unread checks.
 */
const subscriptions = JSON.parse(readFileSync(process.env.PUSH_SUBSCRIPTIONS_FILE!, 'utf8')) as {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}[];
const vapidDetails = {
  subject: 'mailto:parley@localhost',
  publicKey: process.env.VAPID_PUBLIC_KEY!,
  privateKey: process.env.VAPID_PRIVATE_KEY!,
};
const IN_FLIGHT = Number(process.env.PUSH_IN_FLIGHT ?? 32);
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
let messageId = 0;

function post(endpoint: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(endpoint, { method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function notifyAll(conversationId: string, id: number, text: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < subscriptions.length) {
      const subscription = subscriptions[next++]!;
      const payload = JSON.stringify({
        type: 'message',
        conversationId,
        messageId: String(id),
        senderId: '1',
        senderName: 'push0',
        title: 'Group',
        body: text.slice(0, 200),
        unreadCount: 1,
        eventCursor: String(id),
      });
      const details = webpush.generateRequestDetails(subscription, payload, {
        vapidDetails,
        TTL: 86_400,
        urgency: 'normal',
        topic: `c${conversationId}`,
        contentEncoding: 'aes128gcm',
      });
      const headers = Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)]));
      headers['Content-Length'] = String(details.body.length);
      await post(details.endpoint, headers, details.body);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

createServer(async (req, res) => {
  if (req.url === '/health') return json(res, 200, '{"status":"ok"}');
  const match = /^\/conversations\/(\d+)\/message$/.exec(req.url ?? '');
  if (req.method === 'POST' && match) {
    const { body } = JSON.parse(await readBody(req)) as { body: string };
    const id = ++messageId;
    json(res, 201, JSON.stringify({ id: String(id), conversationId: match[1], body }));
    // Only the group the subscriptions belong to notifies (the others are the bench's side sends).
    if (match[1] === process.env.PUSH_CONVERSATION_ID) void notifyAll(match[1]!, id, body);
    return;
  }
  json(res, 404, '{}');
}).listen(Number(process.env.PORT), process.env.HOST);
