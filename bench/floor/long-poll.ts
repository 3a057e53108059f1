import type { ServerResponse } from 'node:http';
import { json, listen, readBody } from './common.ts';

// Floor for "long-poll": GET /events/poll?cursor=&timeout= waits until a message arrives after the
// cursor (or the timeout); POST /conversations/:id/message answers every waiting poll with the event,
// serialized once. In-memory log, no database.
interface Waiting {
  res: ServerResponse;
  timer: NodeJS.Timeout;
}
const waiting = new Set<Waiting>();
const log: { id: number; json: string }[] = [];

const answer = (res: ServerResponse, after: number) => {
  const events = log.filter((e) => e.id > after);
  const cursor = events.at(-1)?.id ?? after;
  json(res, 200, `{"events":[${events.map((e) => e.json).join(',')}],"cursor":"${cursor}"}`);
};

listen(
  async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://floor');
    if (req.method === 'GET' && url.pathname === '/health') return json(res, 200, '{"status":"ok"}');
    if (req.method === 'GET' && url.pathname === '/events/poll') {
      const head = log.at(-1)?.id ?? 0;
      const cursor = url.searchParams.has('cursor') ? Number(url.searchParams.get('cursor')) : head;
      const timeoutMs = Number(url.searchParams.get('timeout') ?? 25) * 1000;
      if (cursor < head || timeoutMs === 0) return answer(res, cursor);
      req.socket.setTimeout(0);
      const w: Waiting = {
        res,
        timer: setTimeout(() => {
          waiting.delete(w);
          answer(res, cursor);
        }, timeoutMs),
      };
      waiting.add(w);
      res.on('close', () => {
        clearTimeout(w.timer);
        waiting.delete(w);
      });
      return;
    }
    if (req.method === 'POST') {
      const input = JSON.parse(await readBody(req)) as { body: string };
      const id = (log.at(-1)?.id ?? 0) + 1;
      const at = new Date().toISOString();
      const message = JSON.stringify({
        id: String(id),
        conversationId: '1',
        senderId: '1',
        body: input.body,
        clientMessageId: null,
        createdAt: at,
        editedAt: null,
      });
      const event = `{"id":"${id}","type":"message.created","at":"${at}","data":${message}}`;
      log.push({ id, json: event });
      const body = `{"events":[${event}],"cursor":"${id}"}`;
      for (const w of waiting) {
        clearTimeout(w.timer);
        json(w.res, 200, body);
      }
      waiting.clear();
      return json(res, 201, message);
    }
    json(res, 404, '{}');
  },
  () => {
    for (const w of waiting) clearTimeout(w.timer);
  },
);
