// SCIM 2.0 over HTTP at /scim/v2/:directoryId (RFC 7644). Both application/scim+json and
// application/json bodies are read; every failure, including body parsing, is a SCIM error body.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../../db/unavailable.js';
import { replyAccessStatus } from '../../http/access-status.js';
import { AccessError } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { Directory } from './directory.entity.js';
import type { ReadAhead } from './directory-provisioning.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, provisioningEmail, USER_SCHEMA } from './scim-resources.js';
import { MAX_RESULTS, type ListQuery, type WriteResult } from './scim.service.js';
import { ScimError } from './scim.errors.js';

const SCIM_JSON = 'application/scim+json; charset=utf-8';
export const MAX_SCIM_BODY_BYTES = 1024 * 1024;

type Params = { directoryId: string; id: string };

function send(reply: FastifyReply, status: number, body: unknown, version?: number) {
  reply.code(status).type(SCIM_JSON);
  if (version) reply.header('etag', `W/"${version}"`);
  return reply.send(body);
}

export async function scimRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const scim = services.scim;
  const base = (request: FastifyRequest<{ Params: Partial<Params> }>) =>
    `${services.config.publicUrl}/scim/v2/${request.params.directoryId}`;

  await app.register(
    async (router) => {
      router.addContentTypeParser(
        ['application/scim+json', 'application/json'],
        { parseAs: 'string', bodyLimit: MAX_SCIM_BODY_BYTES },
        (_request, body, done) => {
          // IdPs send DELETE (Okta: DELETE /Groups/{id}) with a JSON Content-Type and no body at all.
          if ((body as string).trim() === '') return done(null, undefined);
          try {
            done(null, JSON.parse(body as string));
          } catch {
            done(new ScimError(400, 'invalidSyntax', 'The body is not valid JSON.'), undefined);
          }
        },
      );
      router.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
        if (error instanceof ScimError) return send(reply, error.status, error.body());
        if (error instanceof AccessError && error.code === 'RATE_LIMITED') {
          replyAccessStatus(reply, error);
          return send(reply, 429, new ScimError(429, undefined, error.message).body());
        }
        if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
          return send(reply, 413, new ScimError(413, undefined, 'The body is too large.').body());
        if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
          return send(
            reply,
            415,
            new ScimError(
              415,
              undefined,
              'Use Content-Type application/scim+json or application/json.',
            ).body(),
          );
        }
        if ((error.statusCode ?? 500) < 500)
          return send(
            reply,
            error.statusCode!,
            new ScimError(error.statusCode!, 'invalidSyntax', error.message).body(),
          );
        // Not a server bug: 503 with Retry-After tells the IdP when to send the change again.
        if (isDatabaseUnavailable(error)) {
          request.log.warn({ err: error }, 'database unavailable during a SCIM request');
          reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
          return send(reply, 503, new ScimError(503, undefined, 'Service unavailable. Retry later.').body());
        }
        request.log.error({ err: error }, 'unexpected error in SCIM route');
        return send(reply, 500, new ScimError(500, undefined, 'Internal error.').body());
      });

      // Every SCIM route needs the directory's token; the directory is resolved once per request, with a
      // user creation's provisioning context.
      router.decorateRequest('directory', null);
      router.decorateRequest('readAhead', null);
      // Bodies must be SCIM JSON: fastify's own text/plain parser must not let another type through.
      router.addHook('preValidation', async (request) => {
        if (request.body === undefined) return;
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/scim+json' && type !== 'application/json') {
          throw new ScimError(415, undefined, 'Use Content-Type application/scim+json or application/json.');
        }
      });
      // Wrong tokens count against the client address, and past the budget are answered 429. A right token
      // costs no limiter round trip: it cannot be guessed (256 bits), and provisioning bursts are hot paths.
      router.addHook('preHandler', async (request: FastifyRequest<{ Params: Partial<Params> }>) => {
        const creatingUser = request.method === 'POST' && request.routeOptions.url?.endsWith('/Users');
        try {
          Object.assign(
            request,
            await scim.authenticate(
              services.orm.em.fork(),
              request.params.directoryId ?? '',
              request.headers.authorization,
              creatingUser ? provisioningEmail(request.body) : undefined,
            ),
          );
        } catch (error) {
          if (error instanceof ScimError && error.status === 401)
            await services.rateLimits.consume('scimAuthFailuresPerIp', request.ip);
          throw error;
        }
      });
      const authenticated = (request: FastifyRequest) =>
        request as unknown as { directory: Directory; readAhead: ReadAhead | null };
      const dir = (request: FastifyRequest) => authenticated(request).directory;
      const em = () => services.orm.em.fork();
      const ifMatch = (request: FastifyRequest) =>
        typeof request.headers['if-match'] === 'string' ? request.headers['if-match'] : undefined;
      const answer = (reply: FastifyReply, result: WriteResult) =>
        send(reply, result.status, result.resource, result.version);

      router.get('/ServiceProviderConfig', async (request, reply) =>
        send(reply, 200, serviceProviderConfig(base(request as FastifyRequest<{ Params: Partial<Params> }>))),
      );
      router.get('/ResourceTypes', async (request, reply) =>
        send(reply, 200, listOf(resourceTypes(base(request as FastifyRequest<{ Params: Partial<Params> }>)))),
      );
      router.get('/Schemas', async (_request, reply) => send(reply, 200, listOf(SCHEMAS)));

      // Users and Groups answer the same protocol (RFC 7644 3.3 to 3.6); the service holds what differs.
      const resources = [
        {
          path: '/Users',
          list: scim.listUsers,
          get: scim.getUser,
          create: scim.createUser,
          replace: scim.replaceUser,
          patch: scim.patchUser,
          remove: scim.deleteUser,
        },
        {
          path: '/Groups',
          list: scim.listGroups,
          get: scim.getGroup,
          create: scim.createGroup,
          replace: scim.replaceGroup,
          patch: scim.patchGroup,
          remove: scim.deleteGroup,
        },
      ];
      for (const resource of resources) {
        const one = `${resource.path}/:id`;
        router.get<{ Params: Params; Querystring: ListQuery }>(resource.path, async (request, reply) =>
          send(reply, 200, await resource.list.call(scim, em(), dir(request), base(request), request.query)),
        );
        router.get<{ Params: Params; Querystring: ListQuery }>(one, async (request, reply) =>
          answer(
            reply,
            await resource.get.call(
              scim,
              em(),
              dir(request),
              base(request),
              request.params.id,
              request.query,
            ),
          ),
        );
        router.post<{ Params: Params }>(resource.path, async (request, reply) =>
          answer(
            reply,
            await resource.create.call(
              scim,
              em(),
              dir(request),
              base(request),
              request.body,
              authenticated(request).readAhead ?? undefined,
            ),
          ),
        );
        for (const [method, write] of [
          ['put', resource.replace],
          ['patch', resource.patch],
        ] as const) {
          router[method]<{ Params: Params }>(one, async (request, reply) =>
            answer(
              reply,
              await write.call(
                scim,
                em(),
                dir(request),
                base(request),
                request.params.id,
                request.body,
                ifMatch(request),
              ),
            ),
          );
        }
        router.delete<{ Params: Params }>(one, async (request, reply) => {
          await resource.remove.call(scim, em(), dir(request), request.params.id, ifMatch(request));
          return reply.code(204).send();
        });
      }
    },
    { prefix: '/scim/v2/:directoryId' },
  );
}

function listOf(resources: unknown[]) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

function serviceProviderConfig(base: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'The directory token shown once at creation or rotation.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

function resourceTypes(base: string) {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      schema: GROUP_SCHEMA,
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

const attribute = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});

const SCHEMAS = [
  {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: USER_SCHEMA,
    name: 'User',
    attributes: [
      attribute('userName', 'string', { required: true, uniqueness: 'server' }),
      attribute('externalId', 'string', { caseExact: true }),
      attribute('name', 'complex', {
        subAttributes: [attribute('givenName', 'string'), attribute('familyName', 'string')],
      }),
      attribute('displayName', 'string'),
      attribute('active', 'boolean'),
      attribute('emails', 'complex', {
        multiValued: true,
        subAttributes: [
          attribute('value', 'string'),
          attribute('type', 'string'),
          attribute('primary', 'boolean'),
        ],
      }),
    ],
  },
  {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: GROUP_SCHEMA,
    name: 'Group',
    attributes: [
      attribute('displayName', 'string', { required: true }),
      attribute('externalId', 'string', { caseExact: true }),
      attribute('members', 'complex', {
        multiValued: true,
        subAttributes: [
          attribute('value', 'string', { mutability: 'immutable' }),
          attribute('display', 'string'),
        ],
      }),
    ],
  },
];
