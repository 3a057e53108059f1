import type Koa from 'koa';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EventHub } from './events/hub.ts';
import type { Db } from './store/db.ts';
import { selectHeadPosition } from './store/events.ts';

/**
 * This node's Prometheus metrics (GET /metrics, only when METRICS_TOKEN is set). One registry per
 * server, not prom-client's global one, so several servers in one process (the specs) keep apart.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Times every request by its route template (`/conversations/:id`), never its concrete path. */
  readonly httpTimer: Koa.Middleware;
}

export function createMetrics(deps: { db: Db; hub: EventHub }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const http = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'Time to answer, by route template (an SSE stream: until it is live; a long-poll: its wait)',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  new Gauge({
    name: 'parley_open_streams',
    help: 'Open SSE streams on this node',
    registers: [registry],
    collect() {
      this.set(deps.hub.connectionCounts().streams);
    },
  });
  new Gauge({
    name: 'parley_waiting_polls',
    help: 'Long-polls waiting on this node',
    registers: [registry],
    collect() {
      this.set(deps.hub.connectionCounts().polls);
    },
  });
  const logged = new Counter({
    name: 'parley_events_logged_total',
    help: "Events read from the event log by this node's tail: every event any node wrote, once",
    labelNames: ['type'],
    registers: [registry],
  });
  const fanOut = new Histogram({
    name: 'parley_fanout_seconds',
    help: "From an event's commit time to its hand-off to this node's subscribers",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  deps.hub.onFannedOut = (rows) => {
    const now = Date.now();
    for (const row of rows) {
      logged.inc({ type: row.type });
      fanOut.observe(Math.max(0, now - Date.parse(row.at)) / 1000);
    }
  };
  new Gauge({
    name: 'parley_event_log_tail_id',
    help: 'The id of the last event this node has read from the log',
    registers: [registry],
    collect() {
      this.set(deps.hub.tailPosition.id);
    },
  });
  new Gauge({
    name: 'parley_event_log_head_id',
    help: 'The id of the newest event in the log',
    registers: [registry],
    async collect() {
      const head = await selectHeadPosition(deps.db);
      this.set(head.id);
    },
  });
  new Gauge({
    name: 'parley_event_log_lag_events',
    help: "How far this node's tail is behind the log's head, in event ids",
    registers: [registry],
    async collect() {
      const head = await selectHeadPosition(deps.db);
      this.set(Math.max(0, head.id - deps.hub.tailPosition.id));
    },
  });
  const httpTimer: Koa.Middleware = async (ctx, next) => {
    const end = http.startTimer();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      end({ method: ctx.method, route: String(route), status: String(ctx.status) });
    }
  };
  return { registry, httpTimer };
}
