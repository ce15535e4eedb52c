// The HTTP face of one app: GraphQL over HTTP (Apollo) and WebSocket (graphql-ws) on /graphql, the
// protocol routes of each module, and the operations endpoints (/healthz, /readyz, /metrics).
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.js';
import type { Context } from '../graphql/context.js';
import { formatError, unavailableBeforeExecution } from '../graphql/errors.js';
import { checkSubscribe, costLimitPlugin, limitRules, parseOptions } from '../graphql/limits.js';
import { graphqlSchema } from '../graphql/schema.js';
import { rememberSource, sharedSubscribe } from '../graphql/shared-subscribe.js';
import { AccessError } from '../lib/errors.js';
import { uuidv7 } from '../lib/ids.js';
import { memberRoutes } from '../modules/members/member.routes.js';
import { mergeRoutes } from '../modules/merges/merge.routes.js';
import { ssoRoutes } from '../modules/sso/sso.routes.js';
import { scimRoutes } from '../modules/scim/scim.routes.js';
import { oidcRoutes } from '../modules/sso/oidc/oidc.routes.js';
import { googleRoutes } from '../modules/sessions/google.routes.js';
import { domainMembershipRoutes } from '../modules/domains/domain-membership.routes.js';
import type { Services } from '../services.js';
import { replyAccessStatus } from './access-status.js';
import { liveDelivery } from './live-delivery.js';
import { LiveSockets } from './live-sockets.js';
import { consoleRoutes } from './console.routes.js';
import { createMetrics } from './metrics.js';
import { requestScope } from './request-scope.js';
import { sessionToken } from './session-cookie.js';

const GRAPHQL_BODY_LIMIT = 128 * 1024;

export interface HttpServer {
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function createHttpServer(services: Services): Promise<HttpServer> {
  const { config, logger, orm } = services;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: () => uuidv7(),
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    trustProxy: config.trustProxy,
  });
  // GraphQL documents are capped at 1,000 tokens, so a large body can only be amplification in variables;
  // an IdP metadata document (the largest legitimate input) is a few kilobytes.
  app.addHook('onRoute', (route) => {
    if (route.url === '/graphql') route.bodyLimit = GRAPHQL_BODY_LIMIT;
  });
  await app.register(fastifyCookie);
  // Form posts carry SAML responses: base64 of up to SAML_MAX_RESPONSE_BYTES, plus room for the field names.
  await app.register(fastifyFormbody, {
    bodyLimit: Math.ceil((config.saml.maxResponseBytes * 4) / 3) + 16 * 1024,
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Client errors (bad body, wrong content type) keep their message; anything else is masked like in GraphQL.
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof AccessError) {
      replyAccessStatus(reply, error).send({ error: { code: error.code, message: error.message } });
      return;
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      reply.code(status).send({ error: { code: error.code ?? 'BAD_REQUEST', message: error.message } });
      return;
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable during an HTTP request');
      reply.code(503).header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      reply.send({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Service unavailable. Retry later.' } });
      return;
    }
    const errorId = randomUUID();
    request.log.error({ errorId, err: error }, 'unexpected error in HTTP route');
    reply.code(500).send({
      error: {
        code: 'INTERNAL_SERVER_ERROR',
        message: `Internal error. Quote this id to support: ${errorId}`,
        errorId,
      },
    });
  });

  const schema = await graphqlSchema();
  const metrics = createMetrics();

  const formatGraphQLError = formatError(logger, { suggestions: config.graphqlIntrospection });
  const { origin: publicOrigin, protocol: publicProtocol } = new URL(config.publicUrl);
  // A page served from this host under another name than the public URL (in development) is ours too,
  // on the public URL's scheme only: a plain-http page never rides an https deployment's cookie.
  const sameSite = (origin: string, host: string | undefined): boolean => {
    try {
      const url = new URL(origin);
      return url.host === host && url.protocol === publicProtocol;
    } catch {
      return false;
    }
  };
  const wsServer = new WebSocketServer({ server: app.server, path: '/graphql' });
  // A deprovisioned or signed-out-everywhere user loses their open subscriptions at once, not at the next event.
  const liveSockets = new LiveSockets();
  const revocations = services.events.subscribe('USER_SESSIONS_REVOKED');
  void (async () => {
    for await (const userId of revocations) liveSockets.close(userId);
  })();
  // Same error model as over HTTP: typed extensions.code, unexpected errors masked.
  const formatResult = (result: ExecutionResult): FormattedExecutionResult =>
    result.errors
      ? { ...result, errors: result.errors.map((error) => formatGraphQLError(error.toJSON(), error)) }
      : result;
  const live = liveDelivery(formatResult);
  const wsCleanup = useServer<Record<string, unknown>>(
    {
      schema,
      onSubscribe: (_ctx, _id, payload) => {
        const checked = checkSubscribe(schema, payload);
        if ('document' in checked) rememberSource(checked.document, payload.query);
        return checked;
      },
      subscribe: sharedSubscribe,
      context: async (ctx, id): Promise<Context> => {
        const em = orm.em.fork();
        const fromParams = ctx.connectionParams?.authorization;
        const headers = {
          authorization:
            typeof fromParams === 'string' ? fromParams : ctx.extra.request.headers.authorization,
        };
        // A browser sends cookies with a WebSocket handshake from any site (no CORS, no SameSite for
        // same-site subdomains), so the session cookie counts only on a handshake from our own origin.
        const { origin, host, cookie } = ctx.extra.request.headers;
        const cookies =
          origin === undefined || origin === publicOrigin || sameSite(origin, host)
            ? app.parseCookie(cookie ?? '')
            : {};
        const viewer = await services.sessions.authenticate(
          em,
          sessionToken(headers, cookies, config.session.cookieName),
        );
        if (viewer) liveSockets.add(viewer.userId, ctx.extra.socket);
        return {
          scope: { em, viewer, requestId: uuidv7() },
          services,
          live: live(ctx.extra.socket, id),
        };
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((error) => formatGraphQLError(error.toJSON(), error)),
      onNext: (_ctx, _id, _payload, _args, result) => formatResult(result),
    },
    wsServer,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.graphqlIntrospection,
    includeStacktraceInErrorResponses: false,
    // Stated although they are Apollo's defaults: a batch of 100 operations is one request to a rate limit.
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    parseOptions,
    validationRules: limitRules,
    // main.ts owns shutdown: Apollo's own signal handlers would exit before PostgreSQL and the simulators stop.
    stopOnTerminationSignals: false,
    formatError: formatGraphQLError,
    plugins: [
      fastifyApolloDrainPlugin(app),
      metrics.apolloPlugin,
      costLimitPlugin,
      // Apollo's cache-control plugin runs a hook on every field to compute a policy we never use: every
      // answer depends on the caller, so every answer is marked uncacheable here instead.
      ApolloServerPluginCacheControlDisabled(),
      {
        async requestDidStart() {
          return {
            async willSendResponse({ response }) {
              response.http.headers.set('cache-control', 'no-store');
            },
          };
        },
      },
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    context: async (request, reply): Promise<Context> => ({
      scope: await requestScope(services, request).catch(unavailableBeforeExecution),
      services,
      reply,
    }),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await orm.em.fork().getConnection().execute('select 1');
      return { status: 'ready' };
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed');
      reply.code(503);
      return { status: 'unavailable', reason: 'database unreachable' };
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  memberRoutes(app, services);
  mergeRoutes(app, services);
  ssoRoutes(app, services);
  await scimRoutes(app, services);
  oidcRoutes(app, services);
  googleRoutes(app, services);
  domainMembershipRoutes(app, services);
  consoleRoutes(app, config);

  return {
    app,
    async close() {
      await revocations.return?.();
      await app.close();
      wsServer.close();
    },
  };
}
