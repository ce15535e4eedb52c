// Authoritative DNS stand-in for domain-verification tests: serves programmable TXT records over UDP and
// TCP on one port, can fail per name (SERVFAIL, NXDOMAIN, silence), delays records to mimic propagation,
// logs every question, and exposes the same controls over a small JSON HTTP API for other processes.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';

export type Mode = 'normal' | 'servfail' | 'timeout' | 'nxdomain';

export const MODES: readonly Mode[] = ['normal', 'servfail', 'timeout', 'nxdomain'];

/** A TXT record: one string, or several character-strings that together form one record. */
export type TxtValue = string | string[];

export interface QueryLogEntry {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  at: string;
  /** The RCODE sent back, or 'timeout' when the simulator deliberately stayed silent. */
  answered: string;
}

export interface TxtRecordSnapshot {
  name: string;
  /** Character-strings of the record, as `resolveTxt` returns them. */
  strings: string[];
  ttl: number;
  visible: boolean;
  visibleAt: string;
}

export interface SetTxtOptions {
  visibleAfterMs?: number;
  ttl?: number;
}

export interface AddTxtOptions {
  visibleAfterMs?: number;
}

export interface DnsSimulatorOptions {
  host?: string;
  port?: number;
  httpPort?: number;
}

export interface DnsSimulator {
  host: string;
  port: number;
  httpUrl: string;
  /** `host:port`, ready for `resolver.setServers([server])`. */
  server: string;
  setTxt(name: string, values: TxtValue[], options?: SetTxtOptions): void;
  addTxt(name: string, value: TxtValue, options?: AddTxtOptions): void;
  removeTxt(name: string): void;
  setMode(name: string, mode: Mode): void;
  setDefaultMode(mode: Mode): void;
  records(): TxtRecordSnapshot[];
  queries(filter?: { name?: string }): QueryLogEntry[];
  reset(): void;
  close(): Promise<void>;
}

// A typical TTL for a TXT record; node's Resolver does not cache answers, so it never hides a record change.
const DEFAULT_TTL = 60;
const MAX_TXT_STRING_BYTES = 255;
const CLASSIC_UDP_LIMIT = 512;
// A long-running simulator must not grow without bound; tests only ever look at recent questions.
const MAX_LOG_ENTRIES = 10_000;
const MAX_HTTP_BODY_BYTES = 1024 * 1024;
const EPHEMERAL_BIND_ATTEMPTS = 5;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
type RcodeName = keyof typeof RCODE;
const OPCODE_QUERY = 0;

interface StoredRecord {
  chunks: Buffer[];
  ttl: number;
  /** performance.now() timestamp; a wall-clock jump must not make a record appear or vanish. */
  visibleAt: number;
}

export function isMode(value: unknown): value is Mode {
  return typeof value === 'string' && (MODES as readonly string[]).includes(value);
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

function validName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError('name must be a string');
  const normalized = normalizeName(name);
  if (normalized === '') throw new TypeError('name must not be empty');
  if (Buffer.byteLength(normalized) > 253) throw new TypeError(`name is longer than 253 bytes: ${name}`);
  for (const label of normalized.split('.')) {
    const bytes = Buffer.byteLength(label);
    if (bytes === 0 || bytes > 63) throw new TypeError(`invalid label in name: ${name}`);
  }
  return normalized;
}

function splitIntoCharacterStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0) return [bytes];
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += MAX_TXT_STRING_BYTES) {
    chunks.push(bytes.subarray(offset, offset + MAX_TXT_STRING_BYTES));
  }
  return chunks;
}

export function isTxtValue(value: unknown): value is TxtValue {
  if (typeof value === 'string') return true;
  return Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string');
}

function toChunks(value: unknown): Buffer[] {
  if (!isTxtValue(value)) {
    throw new TypeError('a TXT value must be a string or a non-empty array of strings');
  }
  // An oversized part of an explicit array is split too: a TXT wire string cannot exceed 255 bytes anyway.
  return typeof value === 'string'
    ? splitIntoCharacterStrings(value)
    : value.flatMap(splitIntoCharacterStrings);
}

function validDelay(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError('visibleAfterMs must be a non-negative number');
  }
  return value;
}

function validTtl(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new TypeError('ttl must be an integer between 0 and 2147483647');
  }
  return value;
}

function validMode(mode: unknown): Mode {
  if (!isMode(mode)) throw new TypeError(`mode must be one of ${MODES.join(', ')}`);
  return mode;
}

function formatServer(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

class SimulatorState {
  private readonly txt = new Map<string, StoredRecord[]>();
  private readonly modes = new Map<string, Mode>();
  private defaultMode: Mode = 'normal';
  private log: QueryLogEntry[] = [];

  setTxt(name: string, values: TxtValue[], options: SetTxtOptions = {}): void {
    const key = validName(name);
    if (!Array.isArray(values)) throw new TypeError('values must be an array');
    const visibleAt = performance.now() + validDelay(options.visibleAfterMs);
    const ttl = validTtl(options.ttl) ?? DEFAULT_TTL;
    const records = values.map((value) => ({ chunks: toChunks(value), ttl, visibleAt }));
    if (records.length === 0) this.txt.delete(key);
    else this.txt.set(key, records);
  }

  addTxt(name: string, value: TxtValue, options: AddTxtOptions = {}): void {
    const key = validName(name);
    const chunks = toChunks(value);
    const visibleAt = performance.now() + validDelay(options.visibleAfterMs);
    const existing = this.txt.get(key) ?? [];
    // A record set shares one TTL on the wire, so a newcomer inherits the set's.
    const ttl = existing[0]?.ttl ?? DEFAULT_TTL;
    this.txt.set(key, [...existing, { chunks, ttl, visibleAt }]);
  }

  removeTxt(name: string): boolean {
    return this.txt.delete(validName(name));
  }

  setMode(name: string, mode: Mode): void {
    this.modes.set(validName(name), validMode(mode));
  }

  setDefaultMode(mode: Mode): void {
    this.defaultMode = validMode(mode);
  }

  modesSnapshot(): { default: Mode; names: Record<string, Mode> } {
    return { default: this.defaultMode, names: Object.fromEntries(this.modes) };
  }

  records(): TxtRecordSnapshot[] {
    const now = performance.now();
    const wallOffset = Date.now() - now;
    return [...this.txt].flatMap(([name, records]) =>
      records.map((record) => ({
        name,
        strings: record.chunks.map((chunk) => chunk.toString('utf8')),
        ttl: record.ttl,
        visible: record.visibleAt <= now,
        visibleAt: new Date(wallOffset + record.visibleAt).toISOString(),
      })),
    );
  }

  queries(filter: { name?: string } = {}): QueryLogEntry[] {
    const wanted = filter.name === undefined ? undefined : normalizeName(filter.name);
    return this.log
      .slice(-MAX_LOG_ENTRIES)
      .filter((entry) => wanted === undefined || entry.name === wanted)
      .map((e) => ({ ...e }));
  }

  reset(): void {
    this.txt.clear();
    this.modes.clear();
    this.defaultMode = 'normal';
    this.log = [];
  }

  /** Builds the reply to one raw DNS message, or null when it must go unanswered. */
  handle(message: Buffer, transport: 'udp' | 'tcp'): Buffer | null {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return null;
    }
    // Answering a response could start a reflection loop with another server.
    if (query.type !== 'query') return null;

    const requestFlags = query.flags ?? 0;
    const opcode = (requestFlags >> 11) & 0xf;
    const question = query.questions?.[0];
    const ednsOpt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');

    if (!question || opcode !== OPCODE_QUERY) {
      return this.encodeReply(
        query,
        question,
        opcode === OPCODE_QUERY ? 'FORMERR' : 'NOTIMP',
        [],
        ednsOpt,
        transport,
      );
    }

    const name = normalizeName(question.name);
    const mode = this.modes.get(name) ?? this.defaultMode;
    let rcode: RcodeName = 'NOERROR';
    let answers: Answer[] = [];

    if (mode === 'timeout') {
      this.record(name, question.type, transport, 'timeout');
      return null;
    } else if (mode === 'servfail') {
      rcode = 'SERVFAIL';
    } else if (mode === 'nxdomain') {
      rcode = 'NXDOMAIN';
    } else {
      const now = performance.now();
      const visible = (this.txt.get(name) ?? []).filter((record) => record.visibleAt <= now);
      if (visible.length === 0) {
        rcode = 'NXDOMAIN';
      } else if (question.type === 'TXT' || (question.type as string) === 'ANY') {
        const ttl = Math.min(...visible.map((record) => record.ttl));
        answers = visible.map((record) => ({
          type: 'TXT',
          class: 'IN',
          name: question.name,
          ttl,
          data: record.chunks,
        }));
      }
      // Any other type for an existing name stays NOERROR with no answers (NODATA).
    }

    this.record(name, question.type, transport, rcode);
    return this.encodeReply(query, question, rcode, answers, ednsOpt, transport);
  }

  private record(name: string, type: string, transport: 'udp' | 'tcp', answered: string): void {
    this.log.push({ name, type, transport, at: new Date().toISOString(), answered });
    // Trimmed by halves: trimmed at every query past the bound, the log moved 10,000 entries per query.
    if (this.log.length >= 2 * MAX_LOG_ENTRIES) this.log = this.log.slice(-MAX_LOG_ENTRIES);
  }

  private encodeReply(
    query: DecodedPacket,
    question: Question | undefined,
    rcode: RcodeName,
    answers: Answer[],
    ednsOpt: OptAnswer | undefined,
    transport: 'udp' | 'tcp',
  ): Buffer | null {
    const requestFlags = query.flags ?? 0;
    // Keep the opcode and RD bit the client sent, as real servers do; c-ares checks neither, others might.
    const baseFlags =
      (requestFlags & 0x7800) |
      (requestFlags & dnsPacket.RECURSION_DESIRED) |
      dnsPacket.AUTHORITATIVE_ANSWER |
      RCODE[rcode];
    const additionals: Answer[] = ednsOpt
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [];
    const reply: Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: baseFlags,
      questions: question ? [question] : [],
      answers,
      additionals,
    };
    try {
      const encoded = dnsPacket.encode(reply);
      const limit = Math.max(CLASSIC_UDP_LIMIT, ednsOpt?.udpPayloadSize ?? 0);
      if (transport === 'udp' && encoded.length > limit) {
        // Too big for this datagram: flag truncation so the client retries over TCP, as RFC 1035 says.
        return dnsPacket.encode({
          ...reply,
          flags: baseFlags | dnsPacket.TRUNCATED_RESPONSE,
          answers: [],
        });
      }
      return encoded;
    } catch {
      // An odd question (e.g. a name dns-packet cannot re-encode) must not take the server down.
      return null;
    }
  }
}

async function bindUdp(socket: dgram.Socket, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

async function listenTcp(server: net.Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function closeUdp(socket: dgram.Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

async function closeServer(server: net.Server | http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

function createTcpServer(state: SimulatorState, sockets: Set<net.Socket>): net.Server {
  return net.createServer((socket) => {
    sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      // Several length-prefixed messages may share one read, and one may span several reads.
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const reply = state.handle(message, 'tcp');
        if (reply && socket.writable) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
    socket.on('error', () => {
      // A client resetting its connection is routine for a DNS server.
    });
    socket.on('close', () => sockets.delete(socket));
  });
}

async function bindDnsTransports(
  state: SimulatorState,
  host: string,
  requestedPort: number,
  sockets: Set<net.Socket>,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  const attempts = requestedPort === 0 ? EPHEMERAL_BIND_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    udp.on('message', (message, remote) => {
      const reply = state.handle(message, 'udp');
      if (reply) udp.send(reply, remote.port, remote.address, () => undefined);
    });
    await bindUdp(udp, requestedPort, host);
    // Ignore send errors (e.g. ICMP unreachable surfacing later) instead of letting them crash the process.
    udp.on('error', () => undefined);
    const port = udp.address().port;
    const tcp = createTcpServer(state, sockets);
    try {
      await listenTcp(tcp, port, host);
      tcp.on('error', () => undefined);
      return { udp, tcp, port };
    } catch (err) {
      await closeUdp(udp);
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      // The kernel picked a UDP port whose TCP twin is taken; another ephemeral pick will likely do.
      if (!inUse || attempt >= attempts) throw err;
    }
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_HTTP_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function decodeNameSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'name is not valid URL encoding');
  }
}

async function routeHttp(state: SimulatorState, req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const parts = url.pathname.split('/').filter((part) => part !== '');
  const [resource, rawName, ...rest] = parts;
  const methodNotAllowed = () => new HttpError(405, `${method} is not supported on ${url.pathname}`);

  if (rest.length > 0) throw new HttpError(404, `no route for ${url.pathname}`);

  if (resource === 'healthz' && rawName === undefined) {
    if (method !== 'GET') throw methodNotAllowed();
    sendJson(res, 200, { ok: true });
    return;
  }

  if (resource === 'records') {
    if (rawName === undefined) {
      if (method !== 'GET') throw methodNotAllowed();
      sendJson(res, 200, { records: state.records() });
      return;
    }
    const name = decodeNameSegment(rawName);
    if (method === 'PUT') {
      const body = await readJsonBody(req);
      if (!Array.isArray(body.values) || !body.values.every(isTxtValue)) {
        throw new HttpError(400, 'values must be an array of strings or non-empty arrays of strings');
      }
      state.setTxt(name, body.values, {
        visibleAfterMs: validDelay(body.visibleAfterMs),
        ttl: validTtl(body.ttl),
      });
      sendJson(res, 200, { records: state.records().filter((r) => r.name === normalizeName(name)) });
      return;
    }
    if (method === 'POST') {
      const body = await readJsonBody(req);
      if (!isTxtValue(body.value)) {
        throw new HttpError(400, 'value must be a string or a non-empty array of strings');
      }
      state.addTxt(name, body.value, { visibleAfterMs: validDelay(body.visibleAfterMs) });
      sendJson(res, 201, { records: state.records().filter((r) => r.name === normalizeName(name)) });
      return;
    }
    if (method === 'DELETE') {
      if (!state.removeTxt(name)) throw new HttpError(404, `no TXT records for ${normalizeName(name)}`);
      sendJson(res, 200, { removed: normalizeName(name) });
      return;
    }
    throw methodNotAllowed();
  }

  if (resource === 'modes') {
    if (method === 'GET' && rawName === undefined) {
      sendJson(res, 200, state.modesSnapshot());
      return;
    }
    if (method !== 'PUT') throw methodNotAllowed();
    const { mode } = await readJsonBody(req);
    if (!isMode(mode)) throw new HttpError(400, `mode must be one of ${MODES.join(', ')}`);
    if (rawName === undefined) {
      state.setDefaultMode(mode);
      sendJson(res, 200, { default: mode });
    } else {
      const name = decodeNameSegment(rawName);
      state.setMode(name, mode);
      sendJson(res, 200, { name: normalizeName(name), mode });
    }
    return;
  }

  if (resource === 'queries' && rawName === undefined) {
    if (method !== 'GET') throw methodNotAllowed();
    const name = url.searchParams.get('name');
    sendJson(res, 200, { queries: state.queries(name ? { name } : {}) });
    return;
  }

  if (resource === 'reset' && rawName === undefined) {
    if (method !== 'POST') throw methodNotAllowed();
    state.reset();
    sendJson(res, 200, { ok: true });
    return;
  }

  throw new HttpError(404, `no route for ${url.pathname}`);
}

function createHttpApi(state: SimulatorState): http.Server {
  return http.createServer((req, res) => {
    routeHttp(state, req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof TypeError ? 400 : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.end();
      else sendJson(res, status, { error: message });
    });
  });
}

export async function startDnsSimulator(options: DnsSimulatorOptions = {}): Promise<DnsSimulator> {
  const host = options.host ?? '127.0.0.1';
  const state = new SimulatorState();
  const tcpSockets = new Set<net.Socket>();
  const { udp, tcp, port } = await bindDnsTransports(state, host, options.port ?? 0, tcpSockets);

  const httpServer = createHttpApi(state);
  try {
    await listenTcp(httpServer, options.httpPort ?? 0, host);
  } catch (err) {
    tcp.close();
    await closeUdp(udp);
    throw err;
  }
  const httpAddress = httpServer.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const socket of tcpSockets) socket.destroy();
      httpServer.closeAllConnections();
      await Promise.all([closeUdp(udp), closeServer(tcp), closeServer(httpServer)]);
    })();
    return closing;
  };

  return {
    host,
    port,
    server: formatServer(host, port),
    httpUrl: `http://${formatServer(host, httpAddress.port)}`,
    setTxt: (name, values, opts) => state.setTxt(name, values, opts),
    addTxt: (name, value, opts) => {
      state.addTxt(name, value, opts);
    },
    removeTxt: (name) => {
      state.removeTxt(name);
    },
    setMode: (name, mode) => state.setMode(name, mode),
    setDefaultMode: (mode) => state.setDefaultMode(mode),
    records: () => state.records(),
    queries: (filter) => state.queries(filter),
    reset: () => state.reset(),
    close,
  };
}
