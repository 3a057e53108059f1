import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RequestOptions } from 'web-push';

/** A Web Push request ready to POST: what `web-push`'s generateRequestDetails builds. */
export interface PushRequest {
  endpoint: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface EncryptionJob {
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  payload: string;
  options: RequestOptions;
}

/** More jobs waiting than the pool takes: the push is retried later, like any failed attempt. */
export class EncryptionQueueFull extends Error {
  override name = 'EncryptionQueueFull';
}

/**
 * Workers: one per core but one (the thread serving requests keeps a core), at least one, at most
 * four — one encrypts some 2,000 pushes a second, far more than a node sends to its push services.
 */
export const ENCRYPTION_WORKERS = Math.min(4, Math.max(1, availableParallelism() - 1));
/**
 * Jobs queued or running across the pool at most. The dispatcher never has more than
 * PUSH_CONCURRENCY (at most 1,000) pushes in flight, so it never meets this bound; it is there so
 * that no caller can queue without limit.
 */
export const ENCRYPTION_QUEUE_LIMIT = 1024;

interface Pending {
  resolve: (request: PushRequest) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

type Answer = { id: number; error: string } | ({ id: number; error?: undefined } & PushRequest);

/**
 * Web Push encryption (RFC 8291: an ECDH key pair, the key derivation and AES-GCM per push) in
 * worker threads. It is the bulk of a push's CPU; on the thread that serves requests a burst of a
 * thousand pushes held other users' sends up for hundreds of milliseconds. The dispatcher starts
 * the workers as it starts (a worker takes a moment to load: the first pushes should not wait for
 * it); a job goes to the least busy one, and a worker that dies fails its jobs (they are retried
 * like any failed push) and is replaced on the next job.
 */
export class EncryptionPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private queued = 0;
  private closed = false;

  constructor(
    private readonly size = ENCRYPTION_WORKERS,
    private readonly queueLimit = ENCRYPTION_QUEUE_LIMIT,
  ) {}

  /** Builds one push request in a worker; rejects with EncryptionQueueFull past the queue bound. */
  request(job: EncryptionJob): Promise<PushRequest> {
    if (this.closed) return Promise.reject(new Error('the push encryption pool is closed'));
    if (this.queued >= this.queueLimit) {
      return Promise.reject(
        new EncryptionQueueFull(`${this.queued} pushes are waiting for encryption already`),
      );
    }
    const slot = this.leastBusy();
    const id = this.nextId++;
    this.queued++;
    return new Promise<PushRequest>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, ...job });
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
    const worker = new Worker(new URL('./encryption-worker.js', import.meta.url));
    // Idle workers do not keep the process alive; a job waiting is held by its push's own I/O.
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (answer: Answer) => {
      const pending = slot.pending.get(answer.id);
      if (!pending) return;
      slot.pending.delete(answer.id);
      if (answer.error !== undefined) pending.reject(new Error(answer.error));
      else pending.resolve({ endpoint: answer.endpoint, headers: answer.headers, body: answer.body });
    });
    worker.on('error', () => {}); // 'exit' follows and fails the jobs
    worker.on('exit', (code) => {
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      const failure = new Error(`a push encryption worker exited (code ${code})`);
      for (const pending of slot.pending.values()) pending.reject(failure);
      slot.pending.clear();
    });
    this.slots.push(slot);
    return slot;
  }
}
