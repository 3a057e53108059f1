import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RequestOptions } from 'web-push';
import { EndpointRefused } from './endpoint-guard.ts';
import type { PushResponse } from './transport.ts';
import type { VapidKeys } from './vapid.ts';

/**
 * A Web Push notification: encrypted for the subscription and signed with VAPID by `web-push`
 * (the worker adds the Authorization header), then POSTed to its endpoint.
 */
export interface WebPushJob {
  kind: 'webpush';
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  payload: string;
  options: Omit<RequestOptions, 'headers' | 'vapidDetails'>;
}

/** A request POSTed as it is (a push gateway's JSON). */
export interface PostJob {
  kind: 'post';
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type PushJob = WebPushJob | PostJob;

/** More jobs waiting than the workers take: the push is retried later, like any failed attempt. */
export class PushQueueFull extends Error {
  override name = 'PushQueueFull';
}

/**
 * Workers: one per core but one (the thread serving requests keeps a core), at least one, at most
 * four — one sends some 2,000 pushes a second, far more than a node sends to its push services.
 */
export const PUSH_WORKERS = Math.min(4, Math.max(1, availableParallelism() - 1));
/**
 * Jobs queued or running across the workers at most. The dispatcher never has more than
 * PUSH_CONCURRENCY (at most 1,000) pushes in flight, so it never meets this bound; it is there so
 * that no caller can queue without limit.
 */
export const PUSH_QUEUE_LIMIT = 1024;

/** What the workers sign with (VAPID) and how their connections go out: the SSRF rules and the timeout (transport.ts). */
export interface PushWorkerOptions {
  vapid: VapidKeys;
  allowPrivate: boolean;
  timeoutMs: number;
}

interface Pending {
  resolve: (response: PushResponse) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

type Answer =
  | { id: number; response: PushResponse; error?: undefined }
  | { id: number; error: string; refused: boolean };

/**
 * The outgoing half of a push, in worker threads: Web Push encryption (RFC 8291: an ECDH key pair,
 * the key derivation and AES-GCM per push), its VAPID signature (RFC 8292) and the HTTP request to
 * the push service or gateway, over the guarded transport. Both were on the thread that serves requests: the encryption held other
 * users' sends up for hundreds of milliseconds during a burst of a thousand pushes, and with it in a
 * worker the HTTP requests and their callbacks were still a third of that thread's work while
 * pushing. The thread serving requests keeps what needs the database: which pushes are owed, and
 * what became of each.
 *
 * The dispatcher starts the workers as it starts (a worker takes a moment to load: the first
 * pushes should not wait for it); a job goes to the least busy one, and a worker that dies fails
 * its jobs (they are retried like any failed push) and is replaced on the next job.
 */
export class PushWorkers {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private queued = 0;
  private closed = false;

  constructor(
    private readonly options: PushWorkerOptions,
    private readonly size = PUSH_WORKERS,
    private readonly queueLimit = PUSH_QUEUE_LIMIT,
  ) {}

  /**
   * Sends one push from a worker: the push service's answer, or a rejection — EndpointRefused for
   * an endpoint the SSRF rules refuse, PushQueueFull past the queue bound, else a network error.
   */
  send(job: PushJob): Promise<PushResponse> {
    if (this.closed) return Promise.reject(new Error('the push workers are closed'));
    if (this.queued >= this.queueLimit) {
      return Promise.reject(new PushQueueFull(`${this.queued} pushes are waiting for a worker already`));
    }
    const slot = this.leastBusy();
    const id = this.nextId++;
    this.queued++;
    return new Promise<PushResponse>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job });
    }).finally(() => this.queued--);
  }

  /** Starts the workers now rather than on the first job. */
  start(): void {
    while (!this.closed && this.slots.length < this.size) this.spawn();
  }

  /** Jobs queued or running now. */
  get backlog(): number {
    return this.queued;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private leastBusy(): Slot {
    if (this.slots.length < this.size) return this.spawn();
    let best = this.slots[0]!;
    for (const slot of this.slots) if (slot.pending.size < best.pending.size) best = slot;
    return best;
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./push-worker.js', import.meta.url), { workerData: this.options });
    // Idle workers do not keep the process alive; a job waiting is held by its push's own I/O.
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (answer: Answer) => {
      const pending = slot.pending.get(answer.id);
      if (!pending) return;
      slot.pending.delete(answer.id);
      if (answer.error === undefined) pending.resolve(answer.response);
      else pending.reject(answer.refused ? new EndpointRefused(answer.error) : new Error(answer.error));
    });
    worker.on('error', () => {}); // 'exit' follows and fails the jobs
    worker.on('exit', (code) => {
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      const failure = new Error(`a push worker exited (code ${code})`);
      for (const pending of slot.pending.values()) pending.reject(failure);
      slot.pending.clear();
    });
    this.slots.push(slot);
    return slot;
  }
}
