import { EVENT_TYPES } from './event-schemas.ts';

/**
 * The AsyncAPI 3.0 document of the two real-time channels, GET /events (SSE) and GET /events/poll
 * (long-poll): the same per-user event sequence, each event one of the message types below. The
 * payload schemas are the OpenAPI document's own components (one source: lib/http/event-schemas.ts),
 * copied whole so their `#/components/schemas/…` references resolve here too.
 */
type OpenApi = { info: { version: string }; components: { schemas: Record<string, unknown> } };

/** `message.created` → `MessageCreated`, the name of its component (`…Event`) and of its message. */
const pascal = (type: string): string =>
  type
    .split('.')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

export function buildAsyncApi(openapi: OpenApi, origin?: string): object {
  const messages = Object.fromEntries(
    EVENT_TYPES.map((type) => [
      pascal(type),
      {
        name: type,
        title: type,
        contentType: 'application/json',
        payload: { $ref: `#/components/schemas/${schemaName(openapi, `${pascal(type)}Event`)}` },
      },
    ]),
  );
  const channelMessages = Object.fromEntries(
    Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }]),
  );
  const messageRefs = Object.keys(messages).map((name) => ({ $ref: `#/components/messages/${name}` }));
  const auth = [{ $ref: '#/components/securitySchemes/bearer' }];
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley events',
      version: openapi.info.version,
      description:
        'Everything that happens in your conversations and to your account, in order, over SSE or long-poll: the same events and cursors on both (see /openapi.json for the HTTP side).',
      license: { name: 'MIT' },
    },
    ...(origin
      ? {
          servers: {
            parley: {
              host: new URL(origin).host,
              protocol: new URL(origin).protocol.replace(':', ''),
              security: auth,
            },
          },
        }
      : {}),
    channels: {
      sse: {
        address: '/events',
        title: 'Server-Sent Events',
        description:
          'GET /events with Accept: text/event-stream. Each event is a frame `id: <cursor>` (none on ephemeral events), `event: <type>`, `data: <the event JSON>`. Resume with Last-Event-ID or ?cursor=.',
        messages: channelMessages,
      },
      poll: {
        address: '/events/poll',
        title: 'Long-poll',
        description:
          'GET /events/poll?cursor=&timeout= answers {events: [...], cursor}: each element one of these messages. Pass the cursor back.',
        messages: channelMessages,
      },
    },
    operations: {
      streamEvents: {
        action: 'receive',
        channel: { $ref: '#/channels/sse' },
        summary: 'Receive your events over Server-Sent Events',
        messages: messageRefs.map(({ $ref }) => ({
          $ref: $ref.replace('#/components/messages/', '#/channels/sse/messages/'),
        })),
      },
      pollEvents: {
        action: 'receive',
        channel: { $ref: '#/channels/poll' },
        summary: 'Receive your events by long-polling',
        messages: messageRefs.map(({ $ref }) => ({
          $ref: $ref.replace('#/components/messages/', '#/channels/poll/messages/'),
        })),
      },
    },
    components: {
      schemas: asAsyncApiSchemas(openapi.components.schemas),
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /login' },
      },
    },
  };
}

/** zod-openapi names a schema used in responses `<Name>Output` when it differs from the input form. */
function schemaName(openapi: OpenApi, name: string): string {
  return `${name}Output` in openapi.components.schemas ? `${name}Output` : name;
}

/**
 * The OpenAPI schemas in AsyncAPI's schema dialect: the same JSON Schema, except that AsyncAPI's
 * `discriminator` is the property's name where OpenAPI's is an object `{propertyName, mapping}`.
 */
function asAsyncApiSchemas(schemas: Record<string, unknown>): Record<string, unknown> {
  const convert = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(convert);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) =>
        key === 'discriminator' && v !== null && typeof v === 'object' && 'propertyName' in v
          ? [key, (v as { propertyName: string }).propertyName]
          : [key, convert(v)],
      ),
    );
  };
  return convert(schemas) as Record<string, unknown>;
}
