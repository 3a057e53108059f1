/** One request as the network saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  /** When the request left, and when its answer (or failure) came back. */
  sentAt: number;
  answeredAt: number;
  status: number | 'network-error';
}

const isStream = (request: Request) => new URL(request.url).pathname === '/events';

/**
 * A fetch for the client SDK that goes to the real server, but on which event streams can be made
 * to fail the way some networks make them fail (a proxy that refuses or cuts long responses), or
 * every request can fail as when the network is down. It also records what went over it.
 */
export class FlakyNetwork {
  /** New event streams fail to connect; long-polls still go through. */
  streamsBroken = false;
  /** Every request fails to connect. */
  down = false;
  readonly requests: SeenRequest[] = [];
  private readonly openStreams = new Set<(reason: Error) => void>();

  readonly fetch = async (request: Request): Promise<Response> => {
    const seen: SeenRequest = {
      method: request.method,
      path: new URL(request.url).pathname,
      sentAt: Date.now(),
      answeredAt: 0,
      status: 'network-error',
    };
    this.requests.push(seen);
    if (this.down || (this.streamsBroken && isStream(request))) {
      seen.answeredAt = Date.now();
      throw new TypeError('fetch failed (the flaky network refused the connection)');
    }
    const response = await fetch(request);
    seen.answeredAt = Date.now();
    seen.status = response.status;
    return isStream(request) && response.body ? this.cuttable(response) : response;
  };

  /** Cuts every open event stream mid-way, as a connection reset does. */
  cutStreams(): void {
    for (const cut of [...this.openStreams]) cut(new TypeError('connection reset by the flaky network'));
  }

  requestsTo(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** The same response, with a body this network can cut. */
  private cuttable(response: Response): Response {
    const reader = response.body!.getReader();
    let cut: (reason: Error) => void = () => {};
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        cut = (reason) => {
          this.openStreams.delete(cut);
          controller.error(reason);
          reader.cancel(reason).catch(() => {});
        };
        this.openStreams.add(cut);
      },
      pull: async (controller) => {
        try {
          const chunk = await reader.read();
          if (chunk.done) {
            this.openStreams.delete(cut);
            controller.close();
          } else controller.enqueue(chunk.value);
        } catch (err) {
          this.openStreams.delete(cut);
          controller.error(err);
        }
      },
      cancel: (reason) => {
        this.openStreams.delete(cut);
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }
}
