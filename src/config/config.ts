// The one place that reads the environment: every option is parsed and validated here once, at start-up,
// and the rest of the code receives a typed Config. An invalid value stops start-up naming the variable.
import { z } from 'zod';
import type { RateLimit, RateLimitName } from '../lib/rate-limits.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

/** "points/seconds": at most `points` actions per `seconds`, e.g. 120/60. */
const rateLimit = z.string().regex(/^[1-9]\d*\/[1-9]\d*$/, 'points/seconds, e.g. 120/60');

function toRateLimit(text: string): RateLimit {
  const [points, durationSeconds] = text.split('/').map(Number) as [number, number];
  return { points, durationSeconds };
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** Every environment variable the product reads. Each `.describe()` is the documentation the README repeats. */
export const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development').describe('Runtime mode.'),
  HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Interface the API listens on (0.0.0.0 in containers).'),
  PORT: port.default(4000).describe('HTTP port of the API (GraphQL, WebSocket, protocol routes).'),
  PUBLIC_URL: z
    .url()
    .optional()
    .describe(
      'Base URL users and IdPs reach the API at; links in mails use it. Default http://localhost:PORT.',
    ),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .describe(
      'PostgreSQL connection URL. When unset, an embedded PostgreSQL is started with data under EMBEDDED_PG_DIR.',
    ),
  EMBEDDED_PG_DIR: z.string().default('.data/pg').describe('Data folder of the embedded PostgreSQL.'),
  EMBEDDED_PG_PORT: port.default(0).describe('Port of the embedded PostgreSQL (0 picks a free one).'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional()
    .describe(
      'Redis carrying live updates (GraphQL subscriptions, session revocations) between instances. Unset: in-process, for one instance.',
    ),
  SMTP_HOST: z.string().default('127.0.0.1').describe('SMTP server for outbound mail.'),
  SMTP_PORT: port
    .default(1025)
    .describe('SMTP port (the bundled mail simulator listens on 1025 by default).'),
  SMTP_SECURE: bool.default(false).describe('Use implicit TLS to the SMTP server.'),
  SMTP_USER: z.string().optional().describe('SMTP user name, if the server wants authentication.'),
  SMTP_PASSWORD: z.string().optional().describe('SMTP password.'),
  MAIL_FROM: z.string().default('Console Identity <identity@localhost>').describe('Sender of every mail.'),
  MAIL_RETRY_BASE_SECONDS: positiveInt
    .default(5)
    .describe('First retry delay of a mail the SMTP server refused; doubles each time.'),
  MAIL_RETRY_MAX_SECONDS: positiveInt.default(900).describe('Upper bound of the mail retry delay.'),
  DNS_SERVERS: z
    .string()
    .default('127.0.0.1:5353')
    .describe(
      'Comma-separated DNS servers (host:port) for domain verification; the DNS simulator by default.',
    ),
  DNS_TIMEOUT_MS: positiveInt
    .default(2000)
    .describe('Timeout of one DNS query of a domain check (a timeout never counts as absence).'),
  DOMAIN_REFRESH_MIN_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5)
    .describe('Least time between two checks of one domain asked for by domainRefresh.'),
  SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_=-]{43,}$/, 'at least 32 random bytes, base64 or base64url')
    .optional()
    .describe(
      'Key that encrypts secrets at rest (OIDC client secrets). Required in production; a fixed development key otherwise.',
    ),
  SAML_CLOCK_SKEW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .default(60)
    .describe('Clock skew tolerated on SAML time bounds.'),
  SAML_MAX_RESPONSE_BYTES: positiveInt
    .default(256 * 1024)
    .describe('Largest SAML response accepted at the ACS.'),
  SSO_ALLOW_PRIVATE_METADATA_URLS: bool
    .default(false)
    .describe(
      'Allow IdP metadata URLs on loopback and private addresses (the bundled IdP simulator); never in production.',
    ),
  GOOGLE_ISSUER: z
    .url()
    .optional()
    .describe('OpenID issuer of Google sign-in (the IdP simulator stands in for it locally).'),
  GOOGLE_CLIENT_ID: z.string().optional().describe('OAuth client id for Google sign-in.'),
  GOOGLE_CLIENT_SECRET: z.string().optional().describe('OAuth client secret for Google sign-in.'),
  BRAND: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,30}$/, 'lower-case letters, digits and dashes')
    .default('anthropic')
    .describe('Brand word in the TXT record name and value.'),
  GROUP_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/, 'ASCII letters, digits, dot, dash and underscore')
    .default('anthropic-')
    .describe('Prefix of IdP group names that map to organization roles.'),
  SESSION_TTL_SECONDS: positiveInt.default(14 * 24 * 3600).describe('Lifetime of a session.'),
  SESSION_COOKIE_NAME: z.string().default('ci_session').describe('Name of the session cookie.'),
  COOKIE_SECURE: bool.optional().describe('Mark cookies Secure. Default: true when PUBLIC_URL is https.'),
  LOGIN_CODE_TTL_SECONDS: positiveInt.default(600).describe('Lifetime of an e-mailed sign-in code.'),
  LOGIN_CODE_MAX_ATTEMPTS: positiveInt
    .default(5)
    .describe('Wrong guesses after which a sign-in code is void.'),
  LOGIN_CODE_MAX_PER_WINDOW: positiveInt
    .default(5)
    .describe('Sign-in codes one e-mail address may request per window.'),
  LOGIN_CODE_WINDOW_SECONDS: positiveInt.default(900).describe('Window of the sign-in code rate limit.'),
  TRUST_PROXY: z
    .string()
    .regex(/^[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*$/, 'comma-separated addresses or CIDRs')
    .optional()
    .describe(
      'Load balancers (comma-separated addresses or CIDRs) whose X-Forwarded-For names the client that rate limits count. Unset: the socket peer.',
    ),
  RATE_LIMIT_LOGIN_CODES_PER_IP: rateLimit
    .default('50/900')
    .describe('Sign-in codes requested from one client address (any e-mail), as points/seconds.'),
  RATE_LIMIT_SSO_STARTS_PER_IP: rateLimit
    .default('300/60')
    .describe('SSO logins started from one client address (offices share one), as points/seconds.'),
  RATE_LIMIT_APPROVAL_FAILURES_PER_IP: rateLimit
    .default('10/900')
    .describe('Invalid merge approval links tried from one client address before it is refused.'),
  RATE_LIMIT_SCIM_AUTH_FAILURES_PER_IP: rateLimit
    .default('20/300')
    .describe('SCIM requests with a wrong token from one client address before it is refused.'),
  RATE_LIMIT_DOMAIN_CHECKS_PER_USER: rateLimit
    .default('60/3600')
    .describe('Domain checks (refresh) one user may ask for, as points/seconds.'),
  INVITATION_TTL_SECONDS: positiveInt.default(7 * 24 * 3600).describe('Lifetime of an invitation link.'),
  JOB_POLL_SECONDS: z.coerce
    .number()
    .min(0.5)
    .default(2)
    .describe('How often background workers look for work.'),
  SIMULATORS: bool
    .default(true)
    .describe('`npm start` also starts the mail and DNS simulators (and points SMTP and DNS at them).'),
  MAIL_SIM_SMTP_PORT: port.default(1025).describe('SMTP port of the bundled mail simulator.'),
  MAIL_SIM_HTTP_PORT: port.default(8025).describe('HTTP (inbox API) port of the bundled mail simulator.'),
  DNS_SIM_PORT: port.default(5353).describe('UDP and TCP port of the bundled DNS simulator.'),
  DNS_SIM_HTTP_PORT: port.default(8053).describe('HTTP (records API) port of the bundled DNS simulator.'),
  IDP_SIM_PORT: port
    .default(8090)
    .describe('HTTP port of the bundled IdP simulator (SAML, OIDC, the Google stand-in).'),
  GRAPHQL_INTROSPECTION: bool
    .default(false)
    .describe(
      'Allow schema introspection and "Did you mean" hints. Off unless set: schema/schema.graphql is the published schema.',
    ),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level.'),
});

export type Environment = z.infer<typeof environmentSchema>;

/** Outside production only: secrets encrypted with it are as good as plain text, which is fine for a demo. */
const DEVELOPMENT_SECRET_KEY = Buffer.from(
  'console-identity-development-key-do-not-use-in-prod'.slice(0, 32),
);

export interface Config {
  env: Environment['NODE_ENV'];
  host: string;
  port: number;
  publicUrl: string;
  databaseUrl?: string;
  embeddedPostgres: { dir: string; port: number };
  redisUrl?: string;
  smtp: { host: string; port: number; secure: boolean; user?: string; password?: string };
  mail: { from: string; retryBaseSeconds: number; retryMaxSeconds: number };
  dnsServers: string[];
  dnsTimeoutMs: number;
  domainRefreshMinSeconds: number;
  secretKey: Buffer;
  saml: { clockSkewSeconds: number; maxResponseBytes: number };
  sso: { allowPrivateMetadataUrls: boolean };
  google?: { issuer: string; clientId: string; clientSecret: string };
  brand: string;
  groupPrefix: string;
  session: { ttlSeconds: number; cookieName: string; cookieSecure: boolean };
  loginCode: { ttlSeconds: number; maxAttempts: number; maxPerWindow: number; windowSeconds: number };
  invitationTtlSeconds: number;
  rateLimits: Record<RateLimitName, RateLimit>;
  trustProxy: string[] | false;
  jobPollSeconds: number;
  simulators: {
    enabled: boolean;
    smtpPort: number;
    mailHttpPort: number;
    dnsPort: number;
    dnsHttpPort: number;
    idpPort: number;
  };
  graphqlIntrospection: boolean;
  logLevel: Environment['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError that names every invalid variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (!e.SECRET_KEY && e.NODE_ENV === 'production')
    throw new ConfigError(['SECRET_KEY: required in production']);
  if (e.SSO_ALLOW_PRIVATE_METADATA_URLS && e.NODE_ENV === 'production') {
    throw new ConfigError(['SSO_ALLOW_PRIVATE_METADATA_URLS: not allowed in production']);
  }
  const google = [e.GOOGLE_ISSUER, e.GOOGLE_CLIENT_ID, e.GOOGLE_CLIENT_SECRET];
  if (google.some(Boolean) && !google.every(Boolean)) {
    throw new ConfigError([
      'GOOGLE_ISSUER: GOOGLE_ISSUER, GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together',
    ]);
  }
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const dnsServers = e.DNS_SERVERS.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    embeddedPostgres: { dir: e.EMBEDDED_PG_DIR, port: e.EMBEDDED_PG_PORT },
    redisUrl: e.REDIS_URL,
    smtp: {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      user: e.SMTP_USER,
      password: e.SMTP_PASSWORD,
    },
    mail: {
      from: e.MAIL_FROM,
      retryBaseSeconds: e.MAIL_RETRY_BASE_SECONDS,
      retryMaxSeconds: e.MAIL_RETRY_MAX_SECONDS,
    },
    dnsServers,
    dnsTimeoutMs: e.DNS_TIMEOUT_MS,
    domainRefreshMinSeconds: e.DOMAIN_REFRESH_MIN_SECONDS,
    secretKey: e.SECRET_KEY ? Buffer.from(e.SECRET_KEY, 'base64') : DEVELOPMENT_SECRET_KEY,
    saml: { clockSkewSeconds: e.SAML_CLOCK_SKEW_SECONDS, maxResponseBytes: e.SAML_MAX_RESPONSE_BYTES },
    sso: { allowPrivateMetadataUrls: e.SSO_ALLOW_PRIVATE_METADATA_URLS },
    google:
      e.GOOGLE_ISSUER && e.GOOGLE_CLIENT_ID && e.GOOGLE_CLIENT_SECRET
        ? { issuer: e.GOOGLE_ISSUER, clientId: e.GOOGLE_CLIENT_ID, clientSecret: e.GOOGLE_CLIENT_SECRET }
        : undefined,
    brand: e.BRAND,
    groupPrefix: e.GROUP_PREFIX,
    session: {
      ttlSeconds: e.SESSION_TTL_SECONDS,
      cookieName: e.SESSION_COOKIE_NAME,
      cookieSecure: e.COOKIE_SECURE ?? publicUrl.startsWith('https://'),
    },
    loginCode: {
      ttlSeconds: e.LOGIN_CODE_TTL_SECONDS,
      maxAttempts: e.LOGIN_CODE_MAX_ATTEMPTS,
      maxPerWindow: e.LOGIN_CODE_MAX_PER_WINDOW,
      windowSeconds: e.LOGIN_CODE_WINDOW_SECONDS,
    },
    invitationTtlSeconds: e.INVITATION_TTL_SECONDS,
    trustProxy: e.TRUST_PROXY ? e.TRUST_PROXY.split(',') : false,
    rateLimits: {
      loginCodesPerIp: toRateLimit(e.RATE_LIMIT_LOGIN_CODES_PER_IP),
      ssoStartsPerIp: toRateLimit(e.RATE_LIMIT_SSO_STARTS_PER_IP),
      approvalFailuresPerIp: toRateLimit(e.RATE_LIMIT_APPROVAL_FAILURES_PER_IP),
      scimAuthFailuresPerIp: toRateLimit(e.RATE_LIMIT_SCIM_AUTH_FAILURES_PER_IP),
      domainChecksPerUser: toRateLimit(e.RATE_LIMIT_DOMAIN_CHECKS_PER_USER),
    },
    jobPollSeconds: e.JOB_POLL_SECONDS,
    simulators: {
      enabled: e.SIMULATORS,
      smtpPort: e.MAIL_SIM_SMTP_PORT,
      mailHttpPort: e.MAIL_SIM_HTTP_PORT,
      dnsPort: e.DNS_SIM_PORT,
      dnsHttpPort: e.DNS_SIM_HTTP_PORT,
      idpPort: e.IDP_SIM_PORT,
    },
    graphqlIntrospection: e.GRAPHQL_INTROSPECTION,
    logLevel: e.LOG_LEVEL,
  };
}
