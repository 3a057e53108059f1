import type { components } from '../schema.d.ts';

/** An event as both transports deliver it: `{id?, type, at, data}` (no `id` on ephemeral events). */
export type ParleyEvent = components['schemas']['Event'];

/** The two ways events arrive: a Server-Sent Events stream, or long-polling. */
export type Transport = 'sse' | 'poll';
