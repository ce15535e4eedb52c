import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDnsSimulator, type DnsSimulator } from '../../simulators/dns/index.js';

const CHALLENGE = '_anthropic-challenge.example.com';
const TOKEN = 'anthropic-domain-verification=tok_123';

let sim: DnsSimulator;

function resolver(): dns.promises.Resolver {
  const r = new dns.promises.Resolver({ timeout: 300, tries: 1 });
  r.setServers([sim.server]);
  return r;
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  throw new Error('expected the DNS query to fail');
}

async function tcpQuery(name: string, type: 'TXT' | 'A'): Promise<DecodedPacket> {
  const socket = net.connect(sim.port, sim.host);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(dnsPacket.streamEncode({ type: 'query', id: 4242, questions: [{ type, name }] }));
    let received = Buffer.alloc(0);
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) break;
    }
    // streamDecode is typed as Packet, but returns the decoded form (flags, rcode...) like decode does.
    return dnsPacket.streamDecode(received) as DecodedPacket;
  } finally {
    socket.destroy();
  }
}

async function http(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sim.httpUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  sim = await startDnsSimulator();
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.reset();
});

describe('DNS simulator', () => {
  it('listens for UDP and TCP on the same port', () => {
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.server).toBe(`127.0.0.1:${sim.port}`);
    expect(sim.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('keeps the last 10,000 questions in its log', async () => {
    const r = resolver();
    const names = Array.from({ length: 10_050 }, (_, i) => `q${i}.log.example`);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(names.slice(i, i + 50).map((name) => errorCode(r.resolveTxt(name))));
    const logged = sim.queries().map((q) => q.name);
    expect(logged).toHaveLength(10_000);
    expect(new Set(logged)).toEqual(new Set(names.slice(-10_000)));
    expect(sim.queries({ name: names[0]! })).toEqual([]);
  });

  it('answers a TXT query with the record chunks', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
  });

  it('splits a long value into 255-byte character-strings', async () => {
    const long = 'x'.repeat(600);
    sim.setTxt(CHALLENGE, [long]);
    const records = await resolver().resolveTxt(CHALLENGE);
    expect(records).toHaveLength(1);
    expect(records[0]?.map((s) => s.length)).toEqual([255, 255, 90]);
    expect(records[0]?.join('')).toBe(long);
  });

  it('keeps explicit character-strings of one record together', async () => {
    sim.setTxt(CHALLENGE, [['v=spf1 ', 'include:example.net ~all']]);
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([
      ['v=spf1 ', 'include:example.net ~all'],
    ]);
  });

  it('serves several records, and addTxt adds to the set', async () => {
    sim.setTxt(CHALLENGE, ['first', 'second']);
    sim.addTxt(CHALLENGE, TOKEN);
    const records = await resolver().resolveTxt(CHALLENGE);
    expect(records.map((r) => r.join('')).sort()).toEqual([TOKEN, 'first', 'second'].sort());
  });

  it('falls back to TCP when the answer does not fit in a UDP datagram', async () => {
    const values = Array.from({ length: 6 }, (_, i) => String(i).repeat(300));
    sim.setTxt(CHALLENGE, values);
    const records = await resolver().resolveTxt(CHALLENGE);
    expect(records.map((r) => r.join('')).sort()).toEqual(values);
    expect(sim.queries({ name: CHALLENGE }).map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });

  it('matches names case-insensitively, with or without a trailing dot', async () => {
    sim.setTxt('_Anthropic-Challenge.EXAMPLE.com.', [TOKEN]);
    const r = resolver();
    await expect(r.resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
    await expect(r.resolveTxt('_ANTHROPIC-CHALLENGE.Example.COM.')).resolves.toEqual([[TOKEN]]);
  });

  it('answers NXDOMAIN for an unknown name and NODATA for another type', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    const r = resolver();
    expect(await errorCode(r.resolveTxt('_anthropic-challenge.unknown.example'))).toBe('ENOTFOUND');
    expect(await errorCode(r.resolve4(CHALLENGE))).toBe('ENODATA');
  });

  it('removeTxt makes the name disappear', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.removeTxt(CHALLENGE);
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
  });

  it('hides a record until visibleAfterMs has passed', async () => {
    sim.setTxt(CHALLENGE, [TOKEN], { visibleAfterMs: 150 });
    const r = resolver();
    expect(await errorCode(r.resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
    await sleep(200);
    await expect(r.resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
  });

  it('answers SERVFAIL in servfail mode', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.setMode(CHALLENGE, 'servfail');
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ESERVFAIL');
    expect(sim.queries({ name: CHALLENGE }).at(-1)?.answered).toBe('SERVFAIL');
  });

  it('never answers in timeout mode', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.setMode(CHALLENGE, 'timeout');
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ETIMEOUT');
    expect(sim.queries({ name: CHALLENGE }).at(-1)?.answered).toBe('timeout');
  });

  it('answers NXDOMAIN in nxdomain mode even when records exist', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.setMode(CHALLENGE, 'nxdomain');
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
    sim.setMode(CHALLENGE, 'normal');
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
  });

  it('applies the default mode to every name, below per-name modes', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.setTxt('_anthropic-challenge.other.example', [TOKEN]);
    sim.setDefaultMode('servfail');
    sim.setMode('_anthropic-challenge.other.example', 'normal');
    const r = resolver();
    expect(await errorCode(r.resolveTxt(CHALLENGE))).toBe('ESERVFAIL');
    expect(await errorCode(r.resolveTxt('_anthropic-challenge.nowhere.example'))).toBe('ESERVFAIL');
    await expect(r.resolveTxt('_anthropic-challenge.other.example')).resolves.toEqual([[TOKEN]]);
  });

  it('records the query history', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    const r = resolver();
    await r.resolveTxt(CHALLENGE.toUpperCase());
    await errorCode(r.resolve4(CHALLENGE));
    await errorCode(r.resolveTxt('absent.example'));
    await tcpQuery(CHALLENGE, 'TXT');

    const history = sim.queries({ name: `${CHALLENGE}.` });
    expect(
      history.map(({ name, type, transport, answered }) => ({ name, type, transport, answered })),
    ).toEqual([
      { name: CHALLENGE, type: 'TXT', transport: 'udp', answered: 'NOERROR' },
      { name: CHALLENGE, type: 'A', transport: 'udp', answered: 'NOERROR' },
      { name: CHALLENGE, type: 'TXT', transport: 'tcp', answered: 'NOERROR' },
    ]);
    expect(Number.isNaN(Date.parse(history[0]?.at ?? ''))).toBe(false);
    expect(sim.queries()).toHaveLength(4);
  });

  it('answers over TCP with length-prefixed, authoritative replies', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    const reply = await tcpQuery(CHALLENGE, 'TXT');
    expect(reply.id).toBe(4242);
    expect(reply.flag_aa).toBe(true);
    expect(reply.flag_qr).toBe(true);
    expect(reply.questions).toEqual([{ name: CHALLENGE, type: 'TXT', class: 'IN' }]);
    const answer = reply.answers?.[0];
    expect(answer?.type).toBe('TXT');
    expect(answer?.type === 'TXT' && Array.isArray(answer.data) ? answer.data.map(String) : []).toEqual([
      TOKEN,
    ]);

    const missing = await tcpQuery('absent.example', 'TXT');
    expect((missing.flags ?? 0) & 0xf).toBe(3); // NXDOMAIN
  });

  it('serves several queries on one TCP connection', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    const socket = net.connect(sim.port, sim.host);
    const ids: number[] = [];
    try {
      // Both queries in one write: the server must split the stream by the length prefixes.
      socket.write(
        Buffer.concat([
          dnsPacket.streamEncode({ type: 'query', id: 1, questions: [{ type: 'TXT', name: CHALLENGE }] }),
          dnsPacket.streamEncode({ type: 'query', id: 2, questions: [{ type: 'A', name: CHALLENGE }] }),
        ]),
      );
      let received = Buffer.alloc(0);
      for await (const chunk of socket as AsyncIterable<Buffer>) {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          ids.push(dnsPacket.streamDecode(received).id ?? -1);
          received = received.subarray(2 + received.readUInt16BE(0));
        }
        if (ids.length === 2) break;
      }
    } finally {
      socket.destroy();
    }
    expect(ids).toEqual([1, 2]);
  });

  it('survives a malformed UDP datagram', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) =>
      socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]), sim.port, sim.host, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await new Promise<void>((resolve, reject) =>
      socket.send(Buffer.alloc(40, 0xff), sim.port, sim.host, (err) => (err ? reject(err) : resolve())),
    );
    socket.close();
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
    expect(sim.queries()).toHaveLength(1);
  });

  it('reset clears records, modes and history', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    sim.setMode('other.example', 'servfail');
    sim.setDefaultMode('nxdomain');
    await errorCode(resolver().resolveTxt(CHALLENGE));
    sim.reset();
    expect(sim.queries()).toEqual([]);
    expect(sim.records()).toEqual([]);
    sim.setTxt('other.example', ['ok']);
    await expect(resolver().resolveTxt('other.example')).resolves.toEqual([['ok']]);
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
  });

  it('rejects invalid values and modes through the API', () => {
    expect(() => sim.setTxt(CHALLENGE, [42 as unknown as string])).toThrow(TypeError);
    expect(() => sim.setMode(CHALLENGE, 'broken' as 'normal')).toThrow(TypeError);
    expect(() => sim.setTxt('', ['x'])).toThrow(TypeError);
  });
});

describe('DNS simulator HTTP API', () => {
  const encoded = encodeURIComponent(CHALLENGE);

  it('reports health', async () => {
    expect(await http('GET', '/healthz')).toEqual({ status: 200, json: { ok: true } });
  });

  it('sets records that the resolver then sees, and lists them', async () => {
    const put = await http('PUT', `/records/${encoded}`, { values: [TOKEN, ['a', 'b']], ttl: 30 });
    expect(put.status).toBe(200);
    const post = await http('POST', `/records/${encoded}`, { value: 'extra' });
    expect(post.status).toBe(201);

    const records = await resolver().resolveTxt(CHALLENGE);
    expect(records.sort()).toEqual([[TOKEN], ['a', 'b'], ['extra']].sort());

    const list = await http('GET', '/records');
    expect(list.status).toBe(200);
    expect(
      (list.json as { records: Array<{ name: string; strings: string[]; ttl: number }> }).records,
    ).toEqual([
      expect.objectContaining({ name: CHALLENGE, strings: [TOKEN], ttl: 30, visible: true }),
      expect.objectContaining({ name: CHALLENGE, strings: ['a', 'b'], ttl: 30 }),
      expect.objectContaining({ name: CHALLENGE, strings: ['extra'], ttl: 30 }),
    ]);

    expect((await http('DELETE', `/records/${encoded}`)).status).toBe(200);
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
    expect((await http('DELETE', `/records/${encoded}`)).status).toBe(404);
  });

  it('honours visibleAfterMs', async () => {
    await http('PUT', `/records/${encoded}`, { values: [TOKEN], visibleAfterMs: 150 });
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ENOTFOUND');
    await sleep(200);
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
  });

  it('sets per-name and default modes', async () => {
    await http('PUT', `/records/${encoded}`, { values: [TOKEN] });
    expect((await http('PUT', `/modes/${encoded}`, { mode: 'servfail' })).status).toBe(200);
    expect(await errorCode(resolver().resolveTxt(CHALLENGE))).toBe('ESERVFAIL');

    await http('PUT', `/modes/${encoded}`, { mode: 'normal' });
    expect((await http('PUT', '/modes', { mode: 'nxdomain' })).status).toBe(200);
    await expect(resolver().resolveTxt(CHALLENGE)).resolves.toEqual([[TOKEN]]);
    expect(await errorCode(resolver().resolveTxt('other.example'))).toBe('ENOTFOUND');
  });

  it('exposes the query history and resets', async () => {
    sim.setTxt(CHALLENGE, [TOKEN]);
    await resolver().resolveTxt(CHALLENGE);
    await errorCode(resolver().resolveTxt('other.example'));

    const filtered = await http('GET', `/queries?name=${encoded}`);
    expect(filtered.status).toBe(200);
    expect(filtered.json).toEqual({
      queries: [
        expect.objectContaining({ name: CHALLENGE, type: 'TXT', transport: 'udp', answered: 'NOERROR' }),
      ],
    });
    expect(((await http('GET', '/queries')).json as { queries: unknown[] }).queries).toHaveLength(2);

    expect((await http('POST', '/reset')).status).toBe(200);
    expect((await http('GET', '/queries')).json).toEqual({ queries: [] });
    expect((await http('GET', '/records')).json).toEqual({ records: [] });
  });

  it('rejects invalid bodies and unknown routes with JSON errors', async () => {
    const badMode = await http('PUT', `/modes/${encoded}`, { mode: 'sometimes' });
    expect(badMode.status).toBe(400);
    expect(badMode.json).toEqual({ error: expect.stringContaining('mode must be one of') });

    expect((await http('PUT', `/records/${encoded}`, { values: [1, 2] })).status).toBe(400);
    expect((await http('PUT', `/records/${encoded}`, { values: 'not-an-array' })).status).toBe(400);
    expect((await http('POST', `/records/${encoded}`, { value: ['ok', 3] })).status).toBe(400);
    expect((await http('PUT', `/records/${encoded}`, { values: ['x'], visibleAfterMs: -1 })).status).toBe(
      400,
    );
    expect((await http('PUT', `/records/${encoded}`, '{not json')).status).toBe(400);

    const unknown = await http('GET', '/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: expect.any(String) });
    expect(sim.records()).toEqual([]);
  });
});
