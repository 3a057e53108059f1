import Router from '@koa/router';
import Koa from 'koa';
import { listen, readBody } from './common.ts';
import { append, poll, stopWaiting } from './poll-log.ts';

// The long-poll floor's logic (poll-log.ts) behind Koa and @koa/router and nothing else — no
// authentication, validation, logging, security headers or database. Parley's long-poll route runs
// in the same framework: the CPU this costs over the node:http floor is the framework's own share,
// the rest of Parley's is its own work (the long-poll scenario reports both).
const router = new Router();
router.get('/health', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/events/poll', async (ctx) => {
  const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : null;
  const timeoutMs = Number(ctx.query.timeout ?? 25) * 1000;
  ctx.req.socket.setTimeout(0);
  ctx.type = 'json';
  ctx.body = await new Promise<string>((resolve) => {
    const gone = poll(cursor, timeoutMs, { answer: resolve });
    ctx.req.on('close', () => {
      gone();
      resolve('');
    });
  });
});
router.post('/conversations/:id/message', async (ctx) => {
  const input = JSON.parse(await readBody(ctx.req)) as { body: string };
  ctx.status = 201;
  ctx.type = 'json';
  ctx.body = append(input.body);
});
listen(new Koa().use(router.routes()).callback(), stopWaiting);
