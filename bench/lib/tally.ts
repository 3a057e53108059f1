import type { LoadProc } from './procs.ts';
import { ascending } from './stats.ts';

interface Collected {
  arrivals: [number, number[]][];
  dropped: number;
  counted: { n: number; firstAt: number; lastAt: number };
}

/**
 * What a stream client (bench/load/stream-client.ts) saw so far, gathered across collects: each
 * marked message's arrival times, the frames it counts (`count` of sse-open), the dropped streams.
 */
export class Tally {
  readonly arrivals = new Map<number, number[]>();
  frames = 0;
  lastFrameAt = 0;
  dropped = 0;

  constructor(private readonly client: LoadProc) {}

  async gather(): Promise<void> {
    const r = await this.client.request<Collected>({ op: 'collect' }, 'arrivals');
    for (const [seq, times] of r.arrivals)
      this.arrivals.set(seq, [...(this.arrivals.get(seq) ?? []), ...times]);
    this.frames += r.counted.n;
    if (r.counted.lastAt) this.lastFrameAt = r.counted.lastAt;
    this.dropped = r.dropped;
  }

  /** Send → receive latencies of the messages `from` ≤ seq < `to`, at every stream that got them. */
  latencies(sentAt: Map<number, number>, from: number, to: number): number[] {
    const out: number[] = [];
    for (let seq = from; seq < to; seq++)
      for (const t of this.arrivals.get(seq) ?? []) out.push(t - sentAt.get(seq)!);
    return ascending(out);
  }
}
