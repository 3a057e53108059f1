import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error http_ece ships no types
import ece from 'http_ece';

/** One push as a browser would get it: the decrypted payload and the headers it came with. */
export interface ReceivedPush {
  payload: any;
  headers: Record<string, string | string[] | undefined>;
}

/** What the receiver answers for a subscription's next push; 201 when nothing is queued. */
export interface CannedAnswer {
  /** Never answer (the request hangs until the receiver closes): a push service gone silent. */
  hang?: boolean;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
}

interface Subscriber {
  ecdh: ReturnType<typeof createECDH>;
  auth: Buffer;
  received: ReceivedPush[];
  answers: CannedAnswer[];
  /** Every request, including those answered with a failure. */
  attempts: number;
}

const b64url = (b: Buffer) => b.toString('base64url');

/**
 * A local Web Push service and Matrix push gateway for the specs. A subscription is made the way a
 * browser makes one — its own P-256 key pair and auth secret — and every push is checked as a push
 * service and a browser would: the VAPID JWT's signature (ES256 with the key in `k=`), audience
 * and expiry, then the aes128gcm payload decrypted (RFC 8291) with the `http_ece` package. A push
 * that fails a check is kept in `problems`, so specs can assert there were none.
 */
export class PushReceiver {
  private readonly subscribers = new Map<string, Subscriber>();
  readonly gatewayNotifications: any[] = [];
  /** Push keys the gateway reports as rejected. */
  readonly rejectedPushKeys = new Set<string>();
  readonly problems: string[] = [];
  /** The VAPID public key the pushes must be signed with, once known. */
  expectedVapidKey: string | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<PushReceiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const receiver = new PushReceiver(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => {
      receiver.handle(req).then(
        (answer) => {
          if (answer.hang) return;
          res.writeHead(answer.status ?? 201, answer.headers ?? {});
          res.end(answer.body ?? '');
        },
        (err) => {
          receiver.problems.push(String(err));
          res.writeHead(400).end();
        },
      );
    });
    return receiver;
  }

  /** A browser-shaped subscription (PushSubscription.toJSON()) for a new subscriber. */
  subscribe(): { endpoint: string; keys: { p256dh: string; auth: string }; expirationTime: null } {
    const id = randomBytes(8).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subscribers.set(id, { ecdh, auth, received: [], answers: [], attempts: 0 });
    return {
      endpoint: `${this.url}/push/${id}`,
      keys: { p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth) },
      expirationTime: null,
    };
  }

  /** Queues answers for the subscription's next pushes. */
  answer(endpoint: string, ...answers: CannedAnswer[]): void {
    this.subscriber(endpoint).answers.push(...answers);
  }

  received(endpoint: string): ReceivedPush[] {
    return this.subscriber(endpoint).received;
  }

  attempts(endpoint: string): number {
    return this.subscriber(endpoint).attempts;
  }

  /** Waits until `accept()` holds, re-checking as pushes arrive. */
  async until(accept: () => boolean, what: string, waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!accept()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`push receiver: ${what} did not happen within ${waitMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const waiter = () => done();
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(waiter);
      });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private subscriber(endpoint: string): Subscriber {
    const id = endpoint.split('/').at(-1)!;
    const found = this.subscribers.get(id);
    if (!found) throw new Error(`no subscription ${endpoint}`);
    return found;
  }

  private async handle(req: IncomingMessage): Promise<CannedAnswer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    try {
      if (req.url === '/_matrix/push/v1/notify') return this.handleGateway(body);
      return this.handleWebPush(req, body);
    } finally {
      for (const waiter of this.waiters) waiter();
      this.waiters.clear();
    }
  }

  private handleGateway(body: Buffer): CannedAnswer {
    const { notification } = JSON.parse(body.toString('utf8'));
    this.gatewayNotifications.push(notification);
    const rejected = (notification.devices as { pushkey: string }[])
      .map((d) => d.pushkey)
      .filter((k) => this.rejectedPushKeys.has(k));
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ rejected }),
    };
  }

  private handleWebPush(req: IncomingMessage, body: Buffer): CannedAnswer {
    const id = req.url?.split('/').at(-1) ?? '';
    const subscriber = this.subscribers.get(id);
    if (!subscriber) return { status: 404 };
    subscriber.attempts++;
    const canned = subscriber.answers.shift();
    if (canned) return canned;
    this.checkVapid(String(req.headers.authorization ?? ''));
    if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('Content-Encoding is not aes128gcm');
    const plain: Buffer = ece.decrypt(body, {
      version: 'aes128gcm',
      privateKey: subscriber.ecdh,
      authSecret: b64url(subscriber.auth),
    });
    subscriber.received.push({ payload: JSON.parse(plain.toString('utf8')), headers: req.headers });
    return { status: 201 };
  }

  /** Checks `Authorization: vapid t=<JWT>, k=<key>` as a push service does (RFC 8292). */
  private checkVapid(authorization: string): void {
    const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization);
    if (!match) throw new Error(`not a VAPID Authorization header: ${authorization}`);
    const [, jwt, key] = match as unknown as [string, string, string];
    if (this.expectedVapidKey && key !== this.expectedVapidKey)
      throw new Error('signed with another VAPID key');
    const [head, claims, signature] = jwt.split('.') as [string, string, string];
    const raw = Buffer.from(key, 'base64url');
    const publicKey = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(1, 33)), y: b64url(raw.subarray(33, 65)) },
      format: 'jwk',
    });
    const ok = verify(
      'sha256',
      Buffer.from(`${head}.${claims}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    if (!ok) throw new Error('the VAPID signature does not verify');
    const payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
    if (payload.aud !== this.url) throw new Error(`VAPID aud is ${payload.aud}, not ${this.url}`);
    if (!(payload.exp > Date.now() / 1000)) throw new Error('VAPID JWT expired');
    if (!/^(mailto:|https:)/.test(payload.sub)) throw new Error('VAPID sub is not mailto: or https:');
  }
}

/**
 * A PushReceiver for the enclosing `describe`: started before its first spec, closed after its
 * last. The handle may be taken in the `describe` body, like useServer's users: every property it
 * is asked for (or given) is the started receiver's.
 */
export function usePushReceiver(): PushReceiver {
  let receiver: PushReceiver | undefined;
  before(async () => {
    receiver = await PushReceiver.start();
  });
  after(() => receiver?.close());
  const started = (): PushReceiver => {
    if (!receiver)
      throw new Error('usePushReceiver: the receiver starts in a before() hook; use it in specs');
    return receiver;
  };
  return new Proxy({} as PushReceiver, {
    get: (_, key) => {
      const value = Reflect.get(started(), key);
      // Methods run on the receiver itself (its private fields are there).
      return typeof value === 'function' ? value.bind(started()) : value;
    },
    set: (_, key, value) => Reflect.set(started(), key, value),
  });
}
