import { createECDH, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error http_ece ships no types
import ece from 'http_ece';
import { now } from '../lib/clock.ts';

/** One subscription as a browser holds it: the endpoint, and the keys only the browser knows. */
export interface BenchSubscriber {
  endpoint: string;
  p256dh: string;
  auth: string;
  ecdh: ReturnType<typeof createECDH>;
}

/** Pushes kept whole per run, decrypted afterwards to prove they are what a browser would read. */
const KEPT = 3;

/**
 * A local Web Push service for the push scenario: it records when each subscription's push
 * arrives (the bench's clock, as the sender's) and answers 201, doing nothing else on the way, so
 * the measurement is the sender's. A few pushes per run are kept and decrypted afterwards
 * (RFC 8291, with `http_ece`), and every push is checked for `aes128gcm` and a VAPID header.
 */
export class BenchPushReceiver {
  readonly subscribers: BenchSubscriber[] = [];
  private arrivals = new Map<number, number>();
  private repeats = 0;
  private malformed = 0;
  private kept: { index: number; body: Buffer }[] = [];
  private waiter: (() => void) | null = null;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(count: number): Promise<BenchPushReceiver> {
    const server = createServer({ keepAliveTimeout: 60_000 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const receiver = new BenchPushReceiver(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
    for (let i = 0; i < count; i++) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      receiver.subscribers.push({
        endpoint: `${receiver.url}/push/${i}`,
        p256dh: ecdh.getPublicKey().toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
        ecdh,
      });
    }
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = now();
        const index = Number(req.url?.split('/').at(-1));
        if (
          req.headers['content-encoding'] !== 'aes128gcm' ||
          !/^vapid t=/.test(String(req.headers.authorization))
        )
          receiver.malformed++;
        if (receiver.arrivals.has(index)) receiver.repeats++;
        else receiver.arrivals.set(index, at);
        if (receiver.kept.length < KEPT) receiver.kept.push({ index, body: Buffer.concat(chunks) });
        res.writeHead(201).end();
        if (receiver.arrivals.size >= receiver.subscribers.length) receiver.waiter?.();
      });
    });
    return receiver;
  }

  /** Forgets what arrived: the next run starts from nothing. */
  reset(): void {
    this.arrivals = new Map();
    this.repeats = 0;
    this.malformed = 0;
    this.kept = [];
  }

  /** Waits until every subscription got a push, or `timeoutMs`; returns the arrival times by index. */
  async allArrived(timeoutMs: number): Promise<Map<number, number>> {
    if (this.arrivals.size < this.subscribers.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.arrivals;
  }

  /** Repeats, malformed requests and kept pushes that fail to decrypt into JSON. */
  check(): { repeats: number; malformed: number; undecryptable: number; sample: unknown } {
    let undecryptable = 0;
    let sample: unknown = null;
    for (const { index, body } of this.kept) {
      const subscriber = this.subscribers[index];
      try {
        const plain: Buffer = ece.decrypt(body, {
          version: 'aes128gcm',
          privateKey: subscriber!.ecdh,
          authSecret: subscriber!.auth,
        });
        sample = JSON.parse(plain.toString('utf8'));
      } catch {
        undecryptable++;
      }
    }
    return { repeats: this.repeats, malformed: this.malformed, undecryptable, sample };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
