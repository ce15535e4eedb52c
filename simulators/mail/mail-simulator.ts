// Mail simulator: a local SMTP sink that stands in for the real mail relay so tests can read the sign-in
// codes, invitations and approval mails Console Identity sends, and can make the relay fail on purpose.
// It is a standalone tool: it must never import from src/, so it keeps working however the API changes.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import {
  simpleParser,
  type AddressObject,
  type HeaderValue,
  type ParsedMail,
  type StructuredHeader,
} from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface MailMessage {
  id: string;
  /** The From header as written by the sender, falling back to the envelope sender. */
  from: string;
  /** Envelope recipients (RCPT TO), so Bcc recipients are included. */
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** Decoded header values keyed by lower-case name; repeated headers are joined with ", ". */
  headers: Record<string, string>;
  receivedAt: string;
  /** Every distinct http(s) URL found in the text, then the html, in order of first appearance. */
  links: string[];
}

export interface MailFilter {
  /** Case-insensitive exact match against any recipient. */
  to?: string;
  /** Case-insensitive substring of the subject. */
  subject?: string;
  /** Case-insensitive substring of the text body. */
  text?: string;
}

export interface WaitForOptions {
  timeoutMs?: number;
  count?: number;
}

export interface MailSimulatorOptions {
  host?: string;
  smtpPort?: number;
  httpPort?: number;
}

export interface MailSimulator {
  readonly smtpPort: number;
  readonly httpUrl: string;
  readonly host: string;
  messages(filter?: MailFilter): MailMessage[];
  waitFor(filter: MailFilter, options?: WaitForOptions): Promise<MailMessage[]>;
  clear(): void;
  refuse(forMs?: number): void;
  accept(): void;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
const MAX_HTTP_BODY_BYTES = 64 * 1024;
const DEFAULT_WAIT_TIMEOUT_MS = 5000;
// Connections still open at close() (e.g. a pooled transport) would otherwise hold shutdown for 30 s.
const SMTP_CLOSE_TIMEOUT_MS = 250;

interface SmtpError extends Error {
  responseCode: number;
}

function smtpError(responseCode: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode });
}

interface Waiter {
  filter: MailFilter;
  count: number;
  resolve: (messages: MailMessage[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export async function startMailSimulator(options: MailSimulatorOptions = {}): Promise<MailSimulator> {
  const host = options.host ?? '127.0.0.1';
  const inbox: MailMessage[] = [];
  const waiters = new Set<Waiter>();
  // A deadline rather than a timer: refusal ends by itself without anything to clean up on close().
  let refusingUntil = 0;
  let closed = false;

  const isRefusing = (): boolean => Date.now() < refusingUntil;

  const select = (filter: MailFilter = {}): MailMessage[] => inbox.filter((m) => matches(m, filter));

  const settleWaiters = (): void => {
    for (const waiter of waiters) {
      const found = select(waiter.filter);
      if (found.length >= waiter.count) {
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(found);
      }
    }
  };

  const store = (message: MailMessage): void => {
    inbox.push(message);
    settleWaiters();
  };

  const smtp = new SMTPServer({
    authOptional: true,
    // The API may be configured with SMTP credentials; any login is accepted, even without TLS.
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    size: MAX_MESSAGE_BYTES,
    logger: false,
    banner: 'Console Identity mail simulator',
    closeTimeout: SMTP_CLOSE_TIMEOUT_MS,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onRcptTo(_address, _session, callback) {
      callback(isRefusing() ? smtpError(451, 'Temporary failure: mail simulator is refusing mail') : null);
    },
    onData(stream, session, callback) {
      receive(stream, session, isRefusing()).then(
        (message) => {
          store(message);
          callback(null, `OK: queued as ${message.id}`);
        },
        (error: unknown) => {
          callback(error instanceof Error ? error : smtpError(451, String(error)));
        },
      );
    },
  });
  // Clients dropping connections mid-session are routine in tests and must not crash the process.
  smtp.on('error', () => undefined);

  const http = createServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (error) {
      sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
  });

  const handleHttp = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/healthz') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, { status: 'ok', messages: inbox.length, refusing: isRefusing() });
    }
    if (path === '/messages') {
      if (method === 'GET') {
        return sendJson(res, 200, select(filterFromQuery(url.searchParams)));
      }
      if (method === 'DELETE') {
        simulator.clear();
        return sendEmpty(res, 204);
      }
      return methodNotAllowed(res, 'GET, DELETE');
    }
    if (path.startsWith('/messages/')) {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const id = safeDecode(path.slice('/messages/'.length));
      const message = inbox.find((m) => m.id === id);
      if (!message) return sendJson(res, 404, { error: `No message with id ${JSON.stringify(id)}` });
      return sendJson(res, 200, message);
    }
    if (path === '/faults') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      readJsonBody(req).then(
        (body) => {
          const fault = parseFault(body);
          if (typeof fault === 'string') return sendJson(res, 400, { error: fault });
          if (fault.refuse) simulator.refuse(fault.forMs);
          else simulator.accept();
          sendEmpty(res, 204);
        },
        (error: unknown) => {
          sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
        },
      );
      return;
    }
    sendJson(res, 404, { error: `No route for ${method} ${url.pathname}` });
  };

  await listen(smtp.server, options.smtpPort ?? 0, host);
  try {
    await listen(http, options.httpPort ?? 0, host);
  } catch (error) {
    await new Promise<void>((resolve) => smtp.close(resolve));
    throw error;
  }

  const smtpPort = (smtp.server.address() as AddressInfo).port;
  const httpPort = (http.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  const simulator: MailSimulator = {
    smtpPort,
    httpUrl: `http://${urlHost}:${httpPort}`,
    host,

    messages(filter) {
      return select(filter);
    },

    waitFor(filter, waitOptions = {}) {
      const count = waitOptions.count ?? 1;
      const timeoutMs = waitOptions.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
      const found = select(filter);
      if (found.length >= count) return Promise.resolve(found);
      if (closed) return Promise.reject(new Error('Mail simulator is closed'));
      return new Promise<MailMessage[]>((resolve, reject) => {
        const waiter: Waiter = {
          filter,
          count,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(describeTimeout(filter, count, timeoutMs, inbox)));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },

    clear() {
      inbox.length = 0;
    },

    refuse(forMs) {
      if (forMs !== undefined && !(Number.isFinite(forMs) && forMs >= 0)) {
        throw new RangeError(`refuse(forMs) needs a non-negative number of milliseconds, got ${forMs}`);
      }
      refusingUntil = forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + forMs;
    },

    accept() {
      refusingUntil = 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('Mail simulator closed while waiting for mail'));
      }
      waiters.clear();
      await Promise.all([
        new Promise<void>((resolve) => smtp.close(resolve)),
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          // fetch keeps idle sockets alive, which would hold http.close() open indefinitely.
          http.closeAllConnections();
        }),
      ]);
    },
  };

  return simulator;
}

async function receive(
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  refusing: boolean,
): Promise<MailMessage> {
  const receivedAt = new Date().toISOString();
  if (refusing) {
    // The client only reads our reply once it has sent the whole body, so drain it first.
    await drain(stream);
    throw smtpError(451, 'Temporary failure: mail simulator is refusing mail');
  }
  let parsed: ParsedMail;
  try {
    parsed = await simpleParser(stream);
  } catch (error) {
    await drain(stream);
    throw smtpError(554, `Message could not be parsed: ${error instanceof Error ? error.message : error}`);
  }
  if (stream.sizeExceeded) {
    throw smtpError(552, `Message exceeds the maximum size of ${MAX_MESSAGE_BYTES} bytes`);
  }
  // A single-part body always reaches us ending in the line break that DATA requires before the final
  // dot; the sender never wrote it, and keeping it would make exact comparisons in tests awkward.
  const text = stripFinalLineBreak(parsed.text ?? '');
  const html = parsed.html ? stripFinalLineBreak(parsed.html) : undefined;
  const mailFrom = session.envelope.mailFrom;
  return {
    id: randomUUID(),
    from: parsed.from?.text ?? (mailFrom ? mailFrom.address : ''),
    to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    subject: parsed.subject ?? '',
    text,
    ...(html === undefined ? {} : { html }),
    headers: flattenHeaders(parsed),
    receivedAt,
    links: extractLinks(text, html),
  };
}

function stripFinalLineBreak(value: string): string {
  return value.replace(/\r?\n$/, '');
}

function drain(stream: SMTPServerDataStream): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.resume();
  });
}

function matches(message: MailMessage, filter: MailFilter): boolean {
  if (filter.to) {
    const to = filter.to.toLowerCase();
    if (!message.to.some((rcpt) => rcpt.toLowerCase() === to)) return false;
  }
  if (filter.subject && !message.subject.toLowerCase().includes(filter.subject.toLowerCase())) return false;
  if (filter.text && !message.text.toLowerCase().includes(filter.text.toLowerCase())) return false;
  return true;
}

function filterFromQuery(params: URLSearchParams): MailFilter {
  const filter: MailFilter = {};
  for (const key of ['to', 'subject', 'text'] as const) {
    const value = params.get(key);
    if (value) filter[key] = value;
  }
  return filter;
}

function describeTimeout(filter: MailFilter, count: number, timeoutMs: number, inbox: MailMessage[]): string {
  const found = inbox.filter((m) => matches(m, filter)).length;
  const lines = inbox.map(
    (m) => `  - to=${m.to.join(',')} subject=${JSON.stringify(m.subject)} receivedAt=${m.receivedAt}`,
  );
  return (
    `Timed out after ${timeoutMs}ms waiting for ${count} message(s) matching ${JSON.stringify(filter)}; ` +
    `${found} matched. Inbox has ${inbox.length} message(s)${lines.length ? ':\n' + lines.join('\n') : '.'}`
  );
}

// Keys come from the raw header lines so every header keeps its own name (mailparser folds List-* and
// priority headers into synthetic keys); values are mailparser's decoded form where it has a textual one.
function flattenHeaders(parsed: ParsedMail): Record<string, string> {
  const raw = new Map<string, string[]>();
  for (const { key, line } of parsed.headerLines) {
    const value = line
      .slice(line.indexOf(':') + 1)
      .replace(/\r?\n[ \t]+/g, ' ')
      .trim();
    raw.set(key, [...(raw.get(key) ?? []), value]);
  }
  const result: Record<string, string> = {};
  for (const [key, values] of raw) {
    result[key] = decodedHeader(parsed.headers.get(key)) ?? values.join(', ');
  }
  return result;
}

function decodedHeader(value: HeaderValue | undefined): string | undefined {
  if (value === undefined || value instanceof Date) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const parts = value.map((v) => decodedHeader(v));
    return parts.every((p) => p !== undefined) ? parts.join(', ') : undefined;
  }
  if (isAddressObject(value)) return value.text;
  if (isStructuredHeader(value)) {
    return (
      value.value +
      Object.entries(value.params)
        .map(([k, v]) => `; ${k}=${v}`)
        .join('')
    );
  }
  return undefined;
}

function isAddressObject(value: object): value is AddressObject {
  return 'text' in value && typeof value.text === 'string' && 'value' in value && Array.isArray(value.value);
}

function isStructuredHeader(value: object): value is StructuredHeader {
  return 'value' in value && typeof value.value === 'string' && 'params' in value;
}

const URL_PATTERN = /https?:\/\/[^\s"'<>`]+/gi;
// Punctuation that ends a sentence or closes a wrapper is almost never part of the URL itself.
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

function extractLinks(text: string, html: string | undefined): string[] {
  const links: string[] = [];
  const add = (url: string): void => {
    const trimmed = url.replace(TRAILING_PUNCTUATION, '');
    if (trimmed && !links.includes(trimmed)) links.push(trimmed);
  };
  for (const match of text.matchAll(URL_PATTERN)) add(match[0]);
  if (html !== undefined) {
    for (const match of html.matchAll(URL_PATTERN)) add(decodeHtmlEntities(match[0]));
  }
  return links;
}

function decodeHtmlEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|quot|apos|lt|gt);/gi, (entity, code: string) => {
    const lower = code.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    const named: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };
    return named[lower] ?? entity;
  });
}

function parseFault(body: unknown): { refuse: boolean; forMs?: number } | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'Body must be a JSON object like {"refuse": true, "forMs": 30000}';
  }
  const { refuse, forMs } = body as Record<string, unknown>;
  if (typeof refuse !== 'boolean') return '"refuse" must be a boolean';
  if (forMs === undefined || forMs === null) return { refuse };
  if (typeof forMs !== 'number' || !Number.isFinite(forMs) || forMs < 0) {
    return '"forMs" must be a non-negative number of milliseconds';
  }
  return { refuse, forMs };
}

function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_HTTP_BODY_BYTES) {
        reject(new Error(`Body exceeds ${MAX_HTTP_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      if (!raw.trim()) return resolve({});
      try {
        resolve(JSON.parse(raw));
      } catch {
        reject(new Error('Body is not valid JSON'));
      }
    });
  });
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: `Method not allowed; use ${allow}` });
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
