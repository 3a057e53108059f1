import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The API reference at /docs: Swagger UI's files as the `swagger-ui-dist` package ships them, served
 * from this server, so the page works on hosts without internet. The page itself and its start-up
 * script are ours: the script is a file (not inline), which the Content-Security-Policy requires.
 */

const distDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** What /docs/{file} serves: a fixed list, never a path from the request. */
const DIST_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
};

export const DOCS_FILES = [...Object.keys(DIST_FILES), 'start.js'] as const;

const START_SCRIPT = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
    // Swagger UI would otherwise send the document to a validator on another host.
    validatorUrl: null
  });
});
`;

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Parley API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
`;

export interface DocsFile {
  contentType: string;
  body: string | Buffer;
}

const cache = new Map<string, Promise<DocsFile>>();

/** One of DOCS_FILES, read once and kept (about 1.5 MB in all); undefined for any other name. */
export function docsFile(name: string): Promise<DocsFile> | undefined {
  if (name === 'start.js') {
    return Promise.resolve({ contentType: 'text/javascript; charset=utf-8', body: START_SCRIPT });
  }
  const contentType = Object.hasOwn(DIST_FILES, name) ? DIST_FILES[name] : undefined;
  if (!contentType) return undefined;
  let file = cache.get(name);
  if (!file) {
    file = readFile(join(distDir, name)).then((body) => ({ contentType, body }));
    cache.set(name, file);
  }
  return file;
}
