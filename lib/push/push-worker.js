// A push worker (see push-workers.ts): builds each Web Push request — the payload encrypted for the
// browser (RFC 8291, aes128gcm), its headers and VAPID signature — with the `web-push` library, and
// sends it, or a gateway's request as it is, over the guarded transport; off the thread that serves
// requests.
// Plain JavaScript so it loads however the server was started (`node --import tsx`, or the `parley`
// command, which registers tsx only on its own thread); the transport and the VAPID signer,
// TypeScript, come in through tsx's tsImport, which needs no registration.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';
import webpush from 'web-push';

// On a busy machine the thread serving requests goes first: this thread lowers its own priority
// (nice 10). Linux only — nice is per thread there, and /proc/thread-self names this thread;
// elsewhere it keeps the process's priority.
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  // not Linux, or not allowed: the same priority as the requests
}

const { PushTransport } = await tsImport('./transport.ts', import.meta.url);
const { VapidHeaders } = await tsImport('./vapid-headers.ts', import.meta.url);
const transport = new PushTransport(workerData.allowPrivate, workerData.timeoutMs);
const vapid = new VapidHeaders(workerData.vapid);

function send(job) {
  if (job.kind === 'post') return transport.post(job.url, job.headers, job.body);
  const authorization = vapid.for(job.subscription.endpoint);
  const details = webpush.generateRequestDetails(job.subscription, job.payload, {
    ...job.options,
    headers: { Authorization: authorization },
  });
  const headers = {};
  for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
  return transport.post(details.endpoint, headers, details.body);
}

parentPort.on('message', async ({ id, job }) => {
  try {
    parentPort.postMessage({ id, response: await send(job) });
  } catch (err) {
    const refused = err instanceof Error && err.name === 'EndpointRefused';
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err), refused });
  }
});
