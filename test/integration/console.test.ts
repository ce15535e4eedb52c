// The web console's server side: its files served from memory with a strict same-origin policy, every
// GraphQL document it sends valid against the schema, and the session cookie honoured on a WebSocket
// handshake only from our own origin (a foreign page's socket would otherwise ride the admin's cookie).
import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemberRoleUpdateDocument } from '../generated/graphql.js';
import { createOrg, join, person } from '../support/orgs.js';
import { startStack, type Stack } from '../support/stack.js';

describe('the web console', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves the page with a same-origin content security policy, and sends "/" to it', async () => {
    const page = await fetch(`${stack.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<script type="module" src="/console/app.js"></script>');

    const script = await fetch(`${stack.url}/console/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${stack.url}/console/graphql-ws.js`)).status).toBe(200);

    const root = await fetch(`${stack.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');
  });

  it('serves only its own files, by exact name', async () => {
    for (const path of [
      '/console/..%2fpackage.json',
      '/console/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/globals.d.ts',
      '/console/tsconfig.json',
      '/console/nope.js',
    ]) {
      expect((await fetch(`${stack.url}${path}`)).status, path).toBe(404);
    }
  });

  it('sends only GraphQL documents that are valid against the schema', () => {
    const schema = buildSchema(readFileSync('schema/schema.graphql', 'utf8'));
    const documents = readdirSync('console')
      .filter((name) => name.endsWith('.js'))
      .flatMap((name) =>
        [...readFileSync(`console/${name}`, 'utf8').matchAll(/gql`([^`]*)`/g)].map((m) => ({
          name,
          source: m[1]!,
        })),
      );
    expect(documents.length).toBeGreaterThan(25);
    for (const { name, source } of documents) {
      expect(
        validate(schema, parse(source)).map((e) => e.message),
        `${name}: ${source.slice(0, 60)}`,
      ).toEqual([]);
    }
  });

  describe('WebSocket handshakes', () => {
    const sockets: WebSocket[] = [];
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.terminate();
    });

    async function subscribeWithCookie(token: string, origin: string, organizationId: string) {
      const socket = new WebSocket(stack.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', {
        headers: { cookie: `ci_session=${token}`, origin },
      });
      const messages: { type: string; payload?: unknown }[] = [];
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      await new Promise((resolve) => socket.on('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
      socket.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: {
            query: 'subscription ($id: ID!) { membershipChanged(organizationId: $id) { change email } }',
            variables: { id: organizationId },
          },
        }),
      );
      sockets.push(socket);
      return { socket, messages };
    }

    it('takes the session cookie from our own origin and ignores it from any other', async () => {
      const admin = await person(stack, 'ws-admin');
      const org = await createOrg(stack, admin.token, 'API_CONSOLE', 'WS Org');
      const member = await join(stack, org.id, 'USER', admin);

      const ours = new URL(stack.url);
      for (const origin of ['https://evil.example', `https://${ours.host}`, 'null']) {
        const foreign = await subscribeWithCookie(admin.token, origin, org.id);
        await expect
          .poll(() => JSON.stringify(foreign.messages), { message: origin })
          .toContain('UNAUTHENTICATED');
      }

      const own = await subscribeWithCookie(admin.token, ours.origin, org.id);
      await new Promise((r) => setTimeout(r, 100));
      await stack.gqlOk(
        MemberRoleUpdateDocument,
        { organizationId: org.id, userId: member.userId, role: 'DEVELOPER' },
        admin.token,
      );
      await expect
        .poll(() => own.messages.find((m) => m.type === 'next'))
        .toMatchObject({
          payload: { data: { membershipChanged: { change: 'ROLE_CHANGED', email: member.email } } },
        });
    });
  });
});
