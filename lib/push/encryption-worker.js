// A push encryption worker (see encryption-pool.ts): builds each Web Push request — the payload
// encrypted for the browser (RFC 8291, aes128gcm) and its headers — with the `web-push` library,
// off the thread that serves requests. Plain JavaScript so it loads however the server was started
// (`node --import tsx`, or the `parley` command, which registers tsx only on its own thread).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import webpush from 'web-push';

// On a busy machine the thread serving requests goes first: this thread lowers its own priority
// (nice 10). Linux only — nice is per thread there, and /proc/thread-self names this thread;
// elsewhere it keeps the process's priority.
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  // not Linux, or not allowed: the same priority as the requests
}

parentPort.on('message', ({ id, subscription, payload, options }) => {
  try {
    const details = webpush.generateRequestDetails(subscription, payload, options);
    const headers = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
    parentPort.postMessage({ id, endpoint: details.endpoint, headers, body: details.body });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
