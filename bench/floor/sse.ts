import type { ServerResponse } from 'node:http';
import { json, listen, liveStream, readBody } from './common.ts';

// Floor for "fan-out" and "streams": a raw SSE broadcast. GET /events holds a stream open with
// Parley's headers and opening frames; POST /conversations/:id/message writes one frame, built once,
// to every open stream. No database: the broadcast itself is the floor.
const streams = new Set<ServerResponse>();
let nextId = 1;
const heartbeat = setInterval(
  () => {
    for (const res of streams) res.write(':\n\n');
  },
  Number(process.env.SSE_HEARTBEAT_MS ?? 15_000),
);

listen(
  async (req, res) => {
    if (req.method === 'GET' && req.url === '/health') return json(res, 200, '{"status":"ok"}');
    if (req.method === 'GET' && req.url?.startsWith('/events')) {
      return liveStream(req, res, streams);
    }
    if (req.method === 'POST') {
      const input = JSON.parse(await readBody(req)) as { body: string };
      const id = nextId++;
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
      const frame = `id: ${id}\nevent: message.created\ndata: {"id":"${id}","type":"message.created","at":"${at}","data":${message}}\n\n`;
      for (const s of streams) s.write(frame);
      return json(res, 201, message);
    }
    json(res, 404, '{}');
  },
  () => {
    clearInterval(heartbeat);
    for (const s of streams) s.end();
  },
);
