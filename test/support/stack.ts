// startStack(): one whole application with its own fresh database, the mail and DNS simulators, on
// ephemeral loopback ports, in the test process. Tests talk to it only over HTTP and WebSocket.
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { startDnsSimulator, type DnsSimulator } from '../../simulators/dns/index.js';
import { startIdpSimulator, type IdpSimulator } from '../../simulators/idp/index.js';
import { startMailSimulator, type MailSimulator } from '../../simulators/mail/index.js';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { dropDatabase, ensureDatabase } from '../../src/db/database.js';
import { freePort } from '../../src/db/embedded.js';
import type { Clock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import type { StaffRole } from '../../src/modules/sessions/user.entity.js';
import { PER_ADDRESS_LIMITS_FOR_ONE_HOST } from './one-host.js';
import { LoginCodeRequestDocument, LoginCodeVerifyDocument } from '../generated/graphql.js';

export interface GraphQLResult<T> {
  data?: T | null;
  errors?: Array<{
    message: string;
    path?: string[];
    extensions?: Record<string, unknown> & { code?: string };
  }>;
  status: number;
}

export interface Stack {
  url: string;
  app: App;
  mail: MailSimulator;
  dns: DnsSimulator;
  idp: IdpSimulator;
  databaseUrl: string;
  /** Runs a typed operation over HTTP, with the given session token. */
  gql<T, V>(document: TypedDocumentNode<T, V>, variables?: V, token?: string): Promise<GraphQLResult<T>>;
  /** gql() that fails the test on top-level errors and returns data. */
  gqlOk<T, V>(document: TypedDocumentNode<T, V>, variables?: V, token?: string): Promise<T>;
  /** Signs in through the real flow: request a code, read it from the mail simulator, verify it. */
  signIn(email: string): Promise<{ token: string; userId: string }>;
  /** Signs in a vendor employee with a staff role (granted as `npm run admin -- create-staff` does). */
  signInStaff(email: string, role: StaffRole): Promise<{ token: string; userId: string }>;
  ws(token?: string): Client;
  close(): Promise<void>;
}

/**
 * The code of the sign-in mail that `request` makes the product send: the newest code mail to the
 * address once one more has arrived, whatever else the inbox holds.
 */
export async function mailedSignInCode(
  mail: MailSimulator,
  email: string,
  request: () => Promise<void>,
): Promise<string> {
  const before = mail.messages({ to: email, subject: 'sign-in code' }).length;
  await request();
  const messages = await mail.waitFor(
    { to: email, subject: 'sign-in code' },
    { timeoutMs: 10_000, count: before + 1 },
  );
  return /\b(\d{6})\b/.exec(messages.at(-1)!.text)![1]!;
}

export function uniqueEmail(prefix = 'user', domain = 'example.com'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@${domain}`;
}

export interface StackOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** Run as a second instance on the database and simulators of another stack (that stack drops the database). */
  instanceOf?: Stack;
  /**
   * Another PostgreSQL server (a private one a fault test stops and starts): the database is created there
   * empty and migrated by the app, since the run's migrated template lives on the shared server.
   */
  serverUrl?: string;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const serverUrl = options.serverUrl ?? inject('databaseServerUrl');
  const shared = options.instanceOf;
  const database = `t_${randomBytes(6).toString('hex')}`;
  const template = options.serverUrl ? undefined : inject('templateDatabase');
  const databaseUrl = shared?.databaseUrl ?? (await ensureDatabase(serverUrl, database, template));
  const mail = shared?.mail ?? (await startMailSimulator());
  const dns = shared?.dns ?? (await startDnsSimulator());
  const idp = shared?.idp ?? (await startIdpSimulator());
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SMTP_HOST: mail.host,
    SMTP_PORT: String(mail.smtpPort),
    DNS_SERVERS: dns.server,
    JOB_POLL_SECONDS: '0.5',
    MAIL_RETRY_BASE_SECONDS: '1',
    MAIL_RETRY_MAX_SECONDS: '2',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SSO_ALLOW_PRIVATE_METADATA_URLS: 'true',
    ...PER_ADDRESS_LIMITS_FOR_ONE_HOST,
    ...options.env,
  });
  const app = await createApp({
    config,
    databaseUrl,
    clock: options.clock,
    logger: createLogger(config.logLevel),
  });
  const url = await app.listen();

  const client = apiClient(url, app, mail, { clearInboxAfterSignIn: true });
  const stack: Stack = {
    url,
    app,
    mail,
    dns,
    idp,
    databaseUrl,
    ...client.api,
    async close() {
      await client.dispose();
      await app.close();
      if (shared) return;
      await Promise.all([mail.close(), dns.close(), idp.close()]);
      await dropDatabase(serverUrl, database);
    },
  };
  return stack;
}

type ApiMethods = Pick<Stack, 'gql' | 'gqlOk' | 'signIn' | 'signInStaff' | 'ws'>;

/**
 * How tests and scenarios reach an app: typed GraphQL over HTTP, the real e-mailed-code sign-in through the
 * mail simulator, staff roles as `npm run admin -- create-staff` grants them, and graphql-ws clients.
 */
export function apiClient(
  url: string,
  app: App,
  mail: MailSimulator,
  options: { clearInboxAfterSignIn: boolean },
): { api: ApiMethods; dispose(): Promise<void> } {
  const clients: Client[] = [];
  const api: ApiMethods = {
    async gql(document, variables, token) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResult<never>, 'status'>;
      return { ...body, status: response.status } as GraphQLResult<never>;
    },
    async gqlOk(document, variables, token) {
      const result = await api.gql(document, variables, token);
      if (result.errors?.length || !result.data)
        throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    async signIn(email) {
      const code = await mailedSignInCode(mail, email, async () => {
        const requested = await api.gqlOk(LoginCodeRequestDocument, { input: { email } });
        if (!requested.loginCodeRequest.sent)
          throw new Error(JSON.stringify(requested.loginCodeRequest.userErrors));
      });
      if (options.clearInboxAfterSignIn) mail.clear();
      const verified = await api.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
      const signIn = verified.loginCodeVerify;
      if (!signIn.token || !signIn.user) throw new Error(JSON.stringify(signIn.userErrors));
      return { token: signIn.token, userId: signIn.user.id };
    },
    async signInStaff(email, role) {
      await app.services.staff.grantRole(
        { em: app.orm.em.fork(), viewer: null, requestId: 'test:create-staff' },
        email,
        role,
      );
      return api.signIn(email);
    },
    ws(token) {
      const client = createClient({
        url: `${url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
        retryAttempts: 0,
      });
      clients.push(client);
      return client;
    },
  };
  return {
    api,
    async dispose() {
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}
