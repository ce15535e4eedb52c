// The reference web console: static files from console/ (plain ES modules, no build step) that use only the
// public GraphQL API and subscriptions. Files are read once at start and served from memory by an exact
// name, so no request path ever reaches the file system.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config/config.js';

const compiled = import.meta.url.endsWith('.js');
const consoleDir = new URL(compiled ? '../../../console/' : '../../console/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface Asset {
  type: string;
  body: Buffer;
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(consoleDir)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { type, body: readFileSync(new URL(name, consoleDir)) });
  }
  // The official graphql-ws browser client, as its package ships it.
  // (Its package exports no path to it, so it is found beside the main entry.)
  const graphqlWs = new URL(
    '../umd/graphql-ws.min.js',
    pathToFileURL(createRequire(import.meta.url).resolve('graphql-ws')),
  );
  assets.set('graphql-ws.js', { type: CONTENT_TYPES['.js']!, body: readFileSync(graphqlWs) });
  return assets;
}

/** Same-origin everything: the page talks only to this server, over HTTP and its own WebSocket. */
function contentSecurityPolicy(publicUrl: string): string {
  const ws = publicUrl.replace(/^http/, 'ws');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${ws}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function consoleRoutes(app: FastifyInstance, config: Config): void {
  const assets = loadAssets();
  const csp = contentSecurityPolicy(config.publicUrl);
  const send = (reply: FastifyReply, asset: Asset) =>
    reply
      .type(asset.type)
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(asset.body);

  // Sign-in routes end at "/", so that is where a signed-in person lands: the console.
  app.get('/', async (_request, reply) => reply.redirect('/console', 302));
  app.get('/console', async (_request, reply) => send(reply, assets.get('index.html')!));
  app.get<{ Params: { file: string } }>('/console/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset || request.params.file === 'index.html') {
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No such file.' } });
    }
    return send(reply, asset);
  });
}
