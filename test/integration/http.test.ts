import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AuditEventsDocument, OrganizationCreateDocument } from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('HTTP server', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers { __typename } on POST /graphql', async () => {
    const response = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports liveness and readiness', async () => {
    expect(await (await fetch(`${stack.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('exposes Prometheus metrics counted by operation', async () => {
    await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query PingForMetrics { __typename }', operationName: 'PingForMetrics' }),
    });
    const response = await fetch(`${stack.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/graphql_requests_total\{operation="PingForMetrics",type="query",outcome="ok"\} 1/);
    expect(text).toContain(
      'graphql_request_duration_seconds_bucket{le="0.005",operation="PingForMetrics",type="query"}',
    );
  });

  it('masks an unexpected failure behind an error id and reveals no internals', async () => {
    const admin = await stack.signIn(uniqueEmail('masked'));
    const created = await stack.gqlOk(
      OrganizationCreateDocument,
      { input: { name: 'Masked', kind: 'API_CONSOLE' } },
      admin.token,
    );
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    await client.query('alter table audit_events rename to audit_events_gone');
    try {
      const result = await stack.gql(
        AuditEventsDocument,
        { organizationId: created.organizationCreate.organization!.id },
        admin.token,
      );
      const error = result.errors?.[0];
      expect(error?.extensions).toEqual({
        code: 'INTERNAL_SERVER_ERROR',
        errorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(error?.message).toBe(
        `Internal error. Quote this id to support: ${error?.extensions?.errorId as string}`,
      );
      expect(JSON.stringify(result)).not.toMatch(/audit_events|relation|stack|select/i);
    } finally {
      await client.query('alter table audit_events_gone rename to audit_events');
      await client.end();
    }
  });

  it('refuses a mutation sent as GET and a cross-site simple request', async () => {
    const viaGet = await fetch(
      `${stack.url}/graphql?query=${encodeURIComponent('mutation { logout { revoked } }')}`,
      {
        headers: { 'apollo-require-preflight': 'true' },
      },
    );
    expect(viaGet.status).toBe(405);
    const simple = await fetch(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(simple.status).toBe(400);
  });

  it('says not ready when the database is unreachable', async () => {
    const other = await startStack();
    await other.app.orm.close(true);
    const response = await fetch(`${other.url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    await other.close();
  });
});
