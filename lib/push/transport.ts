import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { checkEndpoint, EndpointRefused, guardedLookup, isForbiddenAddress } from './endpoint-guard.ts';

export interface PushResponse {
  status: number;
  /** Seconds to wait, from a Retry-After header (seconds or an HTTP date); null without one. */
  retryAfterSeconds: number | null;
  /** The start of the body, for gateways' `rejected` lists and for the log. */
  body: string;
}

// Only a gateway's answer is read (its `rejected` list); a push service's body is ignored.
const BODY_LIMIT = 16 * 1024;

/**
 * One outgoing push, over a connection whose address is checked as it is made (see
 * endpoint-guard.ts). Keep-alive agents, so a burst to one push service reuses connections. One per
 * push worker (push-worker.js); its connections end with the worker.
 */
export class PushTransport {
  private readonly guardedAgent = new Agent({
    keepAlive: true,
    maxSockets: 64,
    lookup: guardedLookup as never,
  });
  private readonly openAgent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly allowPrivate: boolean,
    /** A push service answers in well under a second; one slower than this is treated as down. */
    private readonly timeoutMs: number,
  ) {}

  /** POSTs `body`; rejects with EndpointRefused for a forbidden address, or a network error. */
  async post(
    url: string,
    headers: Record<string, string>,
    body: Buffer | string | null,
  ): Promise<PushResponse> {
    await checkEndpoint(url, this.allowPrivate);
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    // An IP literal never goes through `lookup`: judge it here.
    if (!this.allowPrivate && isIP(host) && isForbiddenAddress(host)) {
      throw new EndpointRefused(`${host} is a loopback, private or link-local address.`);
    }
    const send = target.protocol === 'http:' ? httpRequest : httpsRequest;
    const agent =
      target.protocol === 'http:' ? undefined : this.allowPrivate ? this.openAgent : this.guardedAgent;
    return new Promise<PushResponse>((resolve, reject) => {
      const req = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, ...(body ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) },
          timeout: this.timeoutMs,
          ...(agent ? { agent } : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < BODY_LIMIT) text += chunk.slice(0, BODY_LIMIT - text.length);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              retryAfterSeconds: parseRetryAfter(res.headers['retry-after']),
              body: text,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }
}

/** Retry-After as seconds: a number of seconds, or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}
