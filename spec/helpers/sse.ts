import { EventSource } from 'eventsource';
import { Changes } from './changes.ts';
import { type ApiResponse, responseObservers } from './client.ts';

/** One SSE frame as the wire carried it: fields, and comment lines (heartbeats) without the colon. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comments: string[];
}

/** The Event JSON of a frame's `data:` line. */
export interface ParleyEvent {
  id?: string;
  type: string;
  at: string;
  data: any;
}

const DEFAULT_WAIT_MS = 5000;

/** Hooks that see every SSE frame the suite receives (spec/helpers/event-types.ts checks the events). */
export const frameObservers: ((frame: SseFrame) => void)[] = [];

/** Splits a text/event-stream into frames, as a browser would (LF line ends, blank line ends a frame). */
function parseFrame(block: string): SseFrame {
  const frame: SseFrame = { comments: [] };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      frame.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
    else if (field === 'retry') frame.retry = Number(value);
  }
  return frame;
}

/**
 * An SSE client over fetch that exposes every frame, comments included, so specs can assert on the
 * exact wire format. Frames queue up until a spec asks for them.
 */
export class SseReader {
  private readonly queue: SseFrame[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;
  /** Resolves when the server ends the stream (or the spec closes it). */
  readonly closed: Promise<void>;

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly body: ReadableStream<Uint8Array> | null,
    private readonly controller: AbortController,
    /** The parsed body of a refusal (a problem+json), when the status is not 200. */
    readonly problem?: any,
  ) {
    this.closed = this.pump();
  }

  /** Opens `GET path` with a bearer token; resolves once the response headers are in. */
  static async open(
    baseUrl: string,
    path: string,
    token: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<SseReader> {
    const controller = new AbortController();
    const res = await fetch(baseUrl + path, {
      headers: {
        Accept: 'text/event-stream',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      signal: controller.signal,
    });
    const response: ApiResponse = { status: res.status, headers: res.headers, body: undefined, text: '' };
    if (res.status !== 200) {
      // A refusal is an ordinary body: read it whole, as the OpenAPI conformance check wants it.
      response.text = await res.text();
      response.body = /json/.test(res.headers.get('content-type') ?? '')
        ? JSON.parse(response.text)
        : response.text;
    }
    for (const observe of responseObservers) observe({ method: 'GET', path, response });
    return new SseReader(
      res.status,
      res.headers,
      res.status === 200 ? res.body : null,
      controller,
      response.body,
    );
  }

  /** Opens a stream and waits until it is live (its `: live` comment), so what follows is seen. */
  static async live(
    baseUrl: string,
    token: string,
    opts: { cursor?: string; lastEventId?: string } = {},
  ): Promise<SseReader> {
    const query = opts.cursor === undefined ? '' : `?cursor=${encodeURIComponent(opts.cursor)}`;
    const headers: Record<string, string> = opts.lastEventId ? { 'Last-Event-ID': opts.lastEventId } : {};
    const reader = await SseReader.open(baseUrl, `/events${query}`, token, headers);
    if (reader.status !== 200) {
      reader.close();
      throw new Error(`GET /events answered ${reader.status}`);
    }
    await reader.waitFor((f) => f.comments.includes('live'));
    return reader;
  }

  /** Waits for a frame matching `accept` and takes only it, leaving the frames before it queued. */
  async waitFor(accept: (f: SseFrame) => boolean, waitMs = DEFAULT_WAIT_MS): Promise<SseFrame> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const index = this.queue.findIndex(accept);
      if (index !== -1) return this.queue.splice(index, 1)[0]!;
      if (this.ended) throw new Error('the event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE frame within ${waitMs} ms`);
      await this.changed(left);
    }
  }

  private changed(waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async pump(): Promise<void> {
    if (!this.body) return this.finish();
    const reader = this.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const frame = parseFrame(buffer.slice(0, end));
          for (const observe of frameObservers) observe(frame);
          this.queue.push(frame);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
        this.notify();
      }
    } catch {
      // Aborted by close(), or the connection was cut: either way the stream is over.
    }
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Frames received and not yet taken. */
  get buffered(): readonly SseFrame[] {
    return this.queue;
  }

  /** The next frame matching `accept` (skipping the others), or a rejection after `waitMs`. */
  async nextFrame(
    accept: (f: SseFrame) => boolean = () => true,
    waitMs = DEFAULT_WAIT_MS,
  ): Promise<SseFrame> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      while (this.queue.length) {
        const frame = this.queue.shift()!;
        if (accept(frame)) return frame;
      }
      if (this.ended) throw new Error('the event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE frame within ${waitMs} ms`);
      await this.changed(left);
    }
  }

  /** The next event frame (not a comment or retry hint), parsed. */
  async nextEvent(waitMs = DEFAULT_WAIT_MS): Promise<ParleyEvent & { frame: SseFrame }> {
    const frame = await this.nextFrame((f) => f.data !== undefined, waitMs);
    return { ...JSON.parse(frame.data!), frame };
  }

  /** The next `n` events, in order. */
  async events(n: number, waitMs = DEFAULT_WAIT_MS): Promise<ParleyEvent[]> {
    const out: ParleyEvent[] = [];
    for (let i = 0; i < n; i++) out.push(await this.nextEvent(waitMs));
    return out;
  }

  /** Waits for the next event of `type`, skipping others. */
  async nextOfType(type: string, waitMs = DEFAULT_WAIT_MS): Promise<ParleyEvent> {
    const frame = await this.nextFrame((f) => f.event === type, waitMs);
    return JSON.parse(frame.data!);
  }

  /** Asserts that no event frame arrives within `ms` (for "never arrives" specs). */
  async expectSilence(ms: number): Promise<void> {
    try {
      const frame = await this.nextFrame((f) => f.data !== undefined, ms);
      throw new Error(`expected no event, got ${frame.event}: ${frame.data}`);
    } catch (err) {
      if ((err as Error).message.startsWith('expected no event')) throw err;
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/**
 * An `eventsource` client authenticated with a bearer header (through its `fetch` option), the way a
 * Node or React Native app would connect. `cut()` drops the current connection the way a flaky
 * network does, so EventSource reconnects by itself with `Last-Event-ID`; `holdReconnect()` keeps
 * that reconnect waiting until the spec releases it.
 */
export class BearerEventSource {
  readonly source: EventSource;
  /** The `Last-Event-ID` header of each connection attempt, in order (undefined on the first). */
  readonly attempts: (string | undefined)[] = [];
  readonly received: ParleyEvent[] = [];
  private readonly changes = new Changes();
  private cutCurrent: (() => void) | null = null;
  private gate: Promise<void> | null = null;
  private release: (() => void) | null = null;
  private openCount = 0;

  constructor(url: string, token: string, types: string[] = ['message.created']) {
    this.source = new EventSource(url, {
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers as HeadersInit);
        this.attempts.push(headers.get('Last-Event-ID') ?? undefined);
        if (this.gate) await this.gate;
        headers.set('Authorization', `Bearer ${token}`);
        const res = await fetch(input, { ...init, headers });
        return this.cuttable(res);
      },
    });
    this.source.addEventListener('open', () => {
      this.openCount++;
      this.notify();
    });
    for (const type of types) {
      this.source.addEventListener(type, (e) => {
        this.received.push(JSON.parse((e as MessageEvent).data));
        this.notify();
      });
    }
  }

  /** Wraps the body so the spec can end it like a dropped connection (not an abort, which EventSource would not retry). */
  private cuttable(res: Response): Response {
    if (!res.body) return res;
    const upstream = res.body.getReader();
    let cut = false;
    let control!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        control = c;
      },
      pull: async (c) => {
        const { value, done } = await upstream.read().catch(() => ({ value: undefined, done: true }));
        if (cut) return;
        if (done || !value) c.close();
        else c.enqueue(value);
      },
      cancel: () => upstream.cancel(),
    });
    this.cutCurrent = () => {
      if (cut) return;
      cut = true;
      control.close();
      void upstream.cancel().catch(() => {});
    };
    return new Response(body, { status: res.status, headers: res.headers });
  }

  private notify(): void {
    this.changes.notify();
  }

  private until(done: () => boolean, what: string, waitMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.changes.until(done, what, waitMs);
  }

  /** Waits for the n-th successful connection (1 = the first). */
  opened(n = 1): Promise<void> {
    return this.until(() => this.openCount >= n, `connection #${n}`);
  }

  /** Waits until `n` events have been received in total. */
  receivedCount(n: number, waitMs?: number): Promise<void> {
    return this.until(() => this.received.length >= n, `${n} events`, waitMs);
  }

  /** Drops the current connection; the next reconnect waits for `releaseReconnect()`. */
  cut(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
    this.cutCurrent?.();
  }

  releaseReconnect(): void {
    this.gate = null;
    this.release?.();
  }

  close(): void {
    this.releaseReconnect();
    this.source.close();
  }
}
