// GQ-04 to GQ-08: what the GraphQL endpoint refuses before running anything, over HTTP and over graphql-ws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHQL_LIMITS } from '../../src/graphql/limits.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

interface RawResult {
  status: number;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

describe('GraphQL abuse limits', () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    stack = await startStack();
    ({ token } = await stack.signIn(uniqueEmail('limits')));
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function post(body: unknown, headers: Record<string, string> = {}): Promise<RawResult> {
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : {},
    };
  }

  const codes = (result: RawResult) => result.body.errors?.map((e) => e.extensions?.code) ?? [];

  const nested = (levels: number) =>
    `{ ${'organizations { nodes { parentOrganization { '.repeat(levels)}id${' } } }'.repeat(levels)} }`;

  it('accepts the deepest query the schema allows and refuses anything deeper', async () => {
    const legit = await post({ query: nested(1) });
    expect(legit.status).toBe(200);
    expect(legit.body.errors).toBeUndefined();
    const deep = await post({ query: nested(4) });
    expect(deep.status).toBe(400);
    expect(codes(deep)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(deep.body)).toMatch(/depth limit/i);
  });

  it(`refuses more than ${GRAPHQL_LIMITS.maxAliases} aliases (alias brute force of a mutation)`, async () => {
    const aliases = Array.from(
      { length: 20 },
      (_, i) =>
        `a${i}: loginCodeVerify(input: { email: "x@example.com", code: "${String(i).padStart(6, '0')}" }) { token }`,
    ).join('\n');
    const result = await post({ query: `mutation { ${aliases} }` });
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).toMatch(/aliases/i);
    const allowed = Array.from({ length: 3 }, (_, i) => `a${i}: __typename`).join(' ');
    expect((await post({ query: `{ ${allowed} }` })).body.errors).toBeUndefined();
  });

  it(`refuses a document of more than ${GRAPHQL_LIMITS.maxTokens} tokens before parsing it whole`, async () => {
    const result = await post({ query: `{ ${'__typename '.repeat(2000)}}` });
    expect(result.status).toBe(400);
    expect(codes(result)).toContain('GRAPHQL_PARSE_FAILED');
    expect(JSON.stringify(result.body)).toMatch(/more that 1000 tokens/);
  });

  it(`refuses more than ${GRAPHQL_LIMITS.maxDirectives} directives`, async () => {
    const result = await post({ query: `{ __typename ${'@include(if: true) '.repeat(60)}}` });
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).toMatch(/directives/i);
  });

  it('prices pages with the real variables: the same document passes small and is refused large', async () => {
    const query = `query Pages($n: Int) {
      organizations(first: $n) { nodes { parentOrganization { organizations(first: $n) { nodes { id name slug } } } } }
    }`;
    const small = await post({ query, variables: { n: 5 } });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
    const large = await post({ query, variables: { n: 100 } });
    expect(large.status).toBe(400);
    expect(codes(large)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('prices a document again for each set of variables, though its price without variables is kept', async () => {
    const query = `query Pages($n: Int = 100) {
      organizations(first: $n) { nodes { parentOrganization { organizations(first: $n) { nodes { id } } } } }
    }`;
    // A name that resolves to no operation prices as nothing; it must not be remembered for the real one.
    expect((await post({ query, operationName: '' })).status).toBe(400);
    for (let round = 0; round < 2; round++) {
      expect(codes(await post({ query }))).toEqual(['QUERY_TOO_COMPLEX']);
      const small = await post({ query, variables: { n: 5 } });
      expect(small.status).toBe(200);
      expect(small.body.errors).toBeUndefined();
    }
  });

  it('marks every answer uncacheable, over GET too, since each depends on the caller', async () => {
    const viaPost = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ organizations(first: 1) { nodes { id } } }' }),
    });
    expect(viaPost.headers.get('cache-control')).toBe('no-store');
    const viaGet = await fetch(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(viaGet.status).toBe(200);
    expect(viaGet.headers.get('cache-control')).toBe('no-store');
  });

  it('caps page sizes in the schema', async () => {
    const result = await post({ query: '{ organizations(first: 1000) { nodes { id } } }' });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a body over the GraphQL limit with 413, whatever it holds', async () => {
    const result = await post({ query: '{ __typename }', variables: { pad: 'x'.repeat(200 * 1024) } });
    expect(result.status).toBe(413);
  });

  it('refuses batched requests', async () => {
    const result = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(result.status).toBe(400);
    expect(result.body.data).toBeUndefined();
  });

  it('refuses cross-site simple requests (CSRF) and mutations over GET', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const response = await fetch(`${stack.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: JSON.stringify({ query: 'mutation { logout { revoked } }' }),
      });
      // Apollo's CSRF check answers 400; Fastify refuses a content type it cannot parse first, with 415.
      expect([400, 415], contentType).toContain(response.status);
    }
    const viaGet = await fetch(
      `${stack.url}/graphql?query=${encodeURIComponent('mutation { logout { revoked } }')}`,
      { headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` } },
    );
    expect(viaGet.status).toBe(405);
  });

  it('hides the schema unless configured: no introspection, no "did you mean", no stack traces', async () => {
    const introspection = await post({ query: '{ __schema { types { name } } }' });
    expect(introspection.status).toBe(400);
    expect(introspection.body.data).toBeUndefined();
    const byType = await post({ query: '{ __type(name: "Organization") { fields { name } } }' });
    expect(byType.body.data).toBeUndefined();
    const typo = await post({ query: '{ organizaton(id: "x") { id } }' });
    expect(typo.body.errors?.[0]?.message).toBe('Cannot query field "organizaton" on type "Query".');
    expect(JSON.stringify(typo.body)).not.toMatch(/did you mean|stacktrace/i);
  });

  it('applies the same limits to subscriptions over graphql-ws', async () => {
    const client = stack.ws(token);
    const errorsOf = (query: string, variables: Record<string, unknown> = {}) =>
      new Promise<unknown[]>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: () => resolve([]),
            error: (errors) => resolve(errors as unknown[]),
            complete: () => resolve([]),
          },
        );
      });
    const aliases = Array.from(
      { length: 40 },
      (_, i) => `a${i}: domainStatusChanged(parentId: $p) { domain { id } }`,
    );
    const tooManyAliases = await errorsOf(`subscription($p: ID!) { ${aliases.join(' ')} }`, { p: 'x' });
    expect(JSON.stringify(tooManyAliases)).toMatch(/aliases/i);
    const tooManyTokens = await errorsOf(`subscription { ${'__typename '.repeat(2000)}}`);
    expect(JSON.stringify(tooManyTokens)).toMatch(/more that 1000 tokens/);
    const typo = await errorsOf('subscription { domainStatusChange(parentId: "x") { __typename } }');
    expect(JSON.stringify(typo)).toMatch(/Cannot query field/);
    expect(JSON.stringify(typo)).not.toMatch(/did you mean/i);
  });
});

describe('GraphQL introspection when configured', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { GRAPHQL_INTROSPECTION: 'true' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers introspection and keeps the hints', async () => {
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(await response.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const typo = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ organizaton(id: "x") { id } }' }),
    });
    expect(JSON.stringify(await typo.json())).toMatch(/Did you mean/);
  });
});
