/**
 * Writes the API documents to files, built in-process (no server, no network), for the linters
 * (`npm run lint:api`): `tsx scripts/write-api-docs.ts <dir>` → <dir>/openapi.json, <dir>/asyncapi.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTES } from '../lib/app.ts';
import { buildOpenApi } from '../lib/http/openapi.ts';
import packageJson from '../package.json' with { type: 'json' };

// The server fills `servers` from each request's origin; a file has none, so it names the default.
const EXAMPLE_ORIGIN = 'http://127.0.0.1:3000';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: tsx scripts/write-api-docs.ts <directory>');
  process.exit(2);
}
writeFileSync(
  join(dir, 'openapi.json'),
  JSON.stringify(buildOpenApi(ROUTES, packageJson.version, EXAMPLE_ORIGIN), null, 2),
);
