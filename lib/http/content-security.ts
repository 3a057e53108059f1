/**
 * The Content-Security-Policy of every response. API answers are JSON and never render, so they get
 * the strictest policy there is; the API reference (/docs) loads only its own files, from this
 * origin: no inline script, no other host, nothing to frame it.
 */
type Directives = Record<string, string[]>;

const policy = (directives: Directives): string =>
  Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');

/** In helmet's shape: sent on every response (lib/app.ts, lib/http/security-headers.ts). */
export const API_DIRECTIVES: Directives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

export const DOCS_POLICY = policy({
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  // Swagger UI adds one <style> element of its own; its hash (swagger-ui-dist 5.35.0) lets that one
  // in and no other. spec/routes/docs-browser.spec.ts reports a violation if an upgrade changes it.
  'style-src': ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  // Swagger UI's stylesheet draws its icons as data: SVGs.
  'img-src': ["'self'", 'data:'],
  // The page fetches /openapi.json and sends "Try it out" requests to this origin only.
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
});
