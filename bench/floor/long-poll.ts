import { json, listen, readBody } from './common.ts';
import { append, poll, stopWaiting } from './poll-log.ts';

// Floor for "long-poll": GET /events/poll?cursor=&timeout= waits until a message arrives after the
// cursor (or the timeout); POST /conversations/:id/message answers every waiting poll with the event,
// serialized once. In-memory log (poll-log.ts), no database.
listen(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  if (req.method === 'GET' && url.pathname === '/health') return json(res, 200, '{"status":"ok"}');
  if (req.method === 'GET' && url.pathname === '/events/poll') {
    const timeoutMs = Number(url.searchParams.get('timeout') ?? 25) * 1000;
    req.socket.setTimeout(0);
    const gone = poll(url.searchParams.get('cursor'), timeoutMs, { answer: (body) => json(res, 200, body) });
    res.on('close', gone);
    return;
  }
  if (req.method === 'POST') {
    const input = JSON.parse(await readBody(req)) as { body: string };
    return json(res, 201, append(input.body));
  }
  json(res, 404, '{}');
}, stopWaiting);
