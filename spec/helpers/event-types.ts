/**
 * Typed events, as a mocha root-hook plugin (package.json "mocha".require): every event the suite
 * receives — SSE frames read through SseReader and the events of long-poll answers — is checked
 * against its schema in lib/http/event-schemas.ts (an SSE frame's `event:` must equal its `type`),
 * and after a full run every event type the schemas list must have been seen at least once, so a
 * type the server emits but no spec ever observed, or a schema nobody exercises, fails the run.
 */
import type { Context } from 'mocha';
import { EVENT_TYPES, Event } from '../../lib/http/event-schemas.ts';
import { responseObservers } from './client.ts';
import { coverageMode } from './openapi.ts';
import { frameObservers } from './sse.ts';

const seenTypes = new Set<string>();
const failures = new Set<string>();

function check(event: unknown, via: string): void {
  const parsed = Event.safeParse(event);
  const type = (event as { type?: unknown })?.type;
  if (typeof type === 'string') seenTypes.add(type);
  if (!parsed.success) {
    failures.add(
      `${via}: ${JSON.stringify(event).slice(0, 200)} — ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
}

export const mochaHooks = {
  beforeAll() {
    frameObservers.push((frame) => {
      if (frame.data === undefined) return;
      const event = JSON.parse(frame.data);
      if (frame.event !== event.type)
        failures.add(`SSE frame event: ${frame.event} carries type ${event.type}`);
      check(event, 'SSE');
    });
    responseObservers.push(({ path, response }) => {
      if (!path.startsWith('/events/poll') || response.status !== 200) return;
      for (const event of (response.body as { events?: unknown[] })?.events ?? []) check(event, 'poll');
    });
  },
  afterAll(this: Context) {
    const root = this.test?.parent;
    const missing = EVENT_TYPES.filter((type) => !seenTypes.has(type));
    const problems = [...failures];
    if (root && coverageMode(root) === 'strict' && missing.length) {
      problems.push(`event types no spec received over SSE or long-poll: ${missing.join(', ')}`);
    }
    console.log(
      `Event types seen: ${seenTypes.size} of ${EVENT_TYPES.length}${missing.length ? ` (not seen: ${missing.join(', ')})` : ''}.`,
    );
    if (problems.length)
      throw new Error(`Events that do not match lib/http/event-schemas.ts:\n  - ${problems.join('\n  - ')}`);
  },
};
