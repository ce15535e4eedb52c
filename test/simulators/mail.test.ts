import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTransport, type Transporter } from 'nodemailer';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { startMailSimulator, type MailMessage, type MailSimulator } from '../../simulators/mail/index.js';

let sim: MailSimulator;
let transport: Transporter;

beforeAll(async () => {
  sim = await startMailSimulator();
  // smtp-server holds every new connection's greeting for 100 ms to catch early talkers; one pooled
  // connection keeps the suite fast while still speaking real SMTP for every message.
  transport = createTransport({
    host: sim.host,
    port: sim.smtpPort,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 1,
  });
});

afterAll(async () => {
  transport?.close();
  await sim?.close();
});

beforeEach(() => {
  sim.accept();
  sim.clear();
});

function send(to: string, subject: string, text: string) {
  return transport.sendMail({ from: '"Console Identity" <no-reply@console.test>', to, subject, text });
}

function api(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${sim.httpUrl}${path}`, init);
}

function postFault(body: unknown): Promise<Response> {
  return api('/faults', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const refusedBySimulator = {
  code: 'EENVELOPE',
  command: 'RCPT TO',
  responseCode: 451,
  response: '451 Temporary failure: mail simulator is refusing mail',
};

// nodemailer never lets the refusal reach DATA (it fails at RCPT), so DATA is driven by hand.
function rawSmtp(host: string, port: number) {
  const socket = connect(port, host);
  socket.setEncoding('utf8');
  let buffer = '';
  const replies: string[] = [];
  const waiting: Array<(reply: string) => void> = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let m = /^\d{3} .*\r\n/m.exec(buffer); m; m = /^\d{3} .*\r\n/m.exec(buffer)) {
      const end = m.index + m[0].length;
      const reply = buffer.slice(0, end).trimEnd();
      buffer = buffer.slice(end);
      const next = waiting.shift();
      if (next) next(reply);
      else replies.push(reply);
    }
  });
  return {
    command(line?: string): Promise<string> {
      if (line !== undefined) socket.write(`${line}\r\n`);
      const ready = replies.shift();
      return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => socket.destroy(),
  };
}

describe('mail simulator', () => {
  it('stores a sent message with parsed subject, text, html, headers and links, in-process and over HTTP', async () => {
    const info = await transport.sendMail({
      from: '"Console Identity" <no-reply@console.test>',
      to: 'alice@example.com',
      bcc: 'audit@example.com',
      subject: 'Your sign-in code: 123456',
      text: 'Your code is 123456. Or open https://app.test/sign-in?code=123456&org=acme.',
      html:
        '<p><a href="https://app.test/sign-in?code=123456&amp;org=acme">Sign in</a> ' +
        '<a href="https://app.test/help">Help</a></p>',
      headers: { 'X-Console-Template': 'sign-in-code' },
    });

    const [message, ...rest] = sim.messages();
    expect(rest).toEqual([]);
    expect(message).toMatchObject({
      from: '"Console Identity" <no-reply@console.test>',
      to: ['alice@example.com', 'audit@example.com'],
      subject: 'Your sign-in code: 123456',
      text: 'Your code is 123456. Or open https://app.test/sign-in?code=123456&org=acme.',
      html: '<p><a href="https://app.test/sign-in?code=123456&amp;org=acme">Sign in</a> <a href="https://app.test/help">Help</a></p>',
      links: ['https://app.test/sign-in?code=123456&org=acme', 'https://app.test/help'],
    });
    expect(message?.headers['x-console-template']).toBe('sign-in-code');
    expect(message?.headers['subject']).toBe('Your sign-in code: 123456');
    expect(message?.headers['message-id']).toBe(info.messageId);
    expect(info.response).toBe(`250 OK: queued as ${message?.id}`);
    expect(Date.parse(message?.receivedAt ?? '')).toBeGreaterThan(Date.now() - 5000);

    const list = await api('/messages');
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await list.json()).toEqual([message]);

    const one = await api(`/messages/${message?.id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual(message);
  });

  it('takes the links from an html-only message', async () => {
    await transport.sendMail({
      from: 'no-reply@console.test',
      to: 'bob@example.com',
      subject: 'Invitation',
      html: '<a href="https://app.test/i/1">Join</a>',
    });
    const [message] = sim.messages();
    expect(message?.html).toBe('<a href="https://app.test/i/1">Join</a>');
    expect(message?.text).toBe('Join [https://app.test/i/1]');
    expect(message?.links).toEqual(['https://app.test/i/1']);
  });

  it('filters by recipient (exact, case-insensitive), subject and text (substring, case-insensitive)', async () => {
    await send('alice@example.com', 'Sign-in code', 'code 111111');
    await send('bob@example.com', 'Sign-in code', 'code 222222');
    await send('alice@example.com', 'You were invited to Acme', 'Accept the invitation');

    const subjects = (messages: MailMessage[]) => messages.map((m) => `${m.to.join()}|${m.text}`);
    expect(subjects(sim.messages({ to: 'ALICE@example.COM' }))).toEqual([
      'alice@example.com|code 111111',
      'alice@example.com|Accept the invitation',
    ]);
    expect(sim.messages({ to: 'alice@example' })).toEqual([]);
    expect(subjects(sim.messages({ subject: 'SIGN-IN' }))).toEqual([
      'alice@example.com|code 111111',
      'bob@example.com|code 222222',
    ]);
    expect(subjects(sim.messages({ text: '2222' }))).toEqual(['bob@example.com|code 222222']);
    expect(subjects(sim.messages({ to: 'alice@example.com', subject: 'sign-in' }))).toEqual([
      'alice@example.com|code 111111',
    ]);

    const overHttp = await api('/messages?to=Alice%40Example.com&subject=invited&text=');
    expect(subjects((await overHttp.json()) as MailMessage[])).toEqual([
      'alice@example.com|Accept the invitation',
    ]);
  });

  it('waitFor resolves for mail that arrives after the call, and at once for mail already there', async () => {
    const waiting = sim.waitFor(
      { to: 'carol@example.com', subject: 'approval' },
      { count: 2, timeoutMs: 2000 },
    );
    await send('carol@example.com', 'Approval needed', 'first');
    await send('dave@example.com', 'Approval needed', 'not for carol');
    await send('carol@example.com', 'Approval granted', 'second');

    const found = await waiting;
    expect(found.map((m) => m.text)).toEqual(['first', 'second']);

    const already = await sim.waitFor({ to: 'dave@example.com' }, { timeoutMs: 1 });
    expect(already.map((m) => m.text)).toEqual(['not for carol']);
  });

  it('waitFor rejects after the timeout, naming the filter and the inbox contents', async () => {
    await send('erin@example.com', 'Welcome', 'hello');
    const started = Date.now();
    await expect(sim.waitFor({ to: 'nobody@example.com' }, { timeoutMs: 50 })).rejects.toThrow(
      'Timed out after 50ms waiting for 1 message(s) matching {"to":"nobody@example.com"}; 0 matched. ' +
        'Inbox has 1 message(s):\n  - to=erin@example.com subject="Welcome" receivedAt=',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('clears the inbox in-process and with DELETE /messages', async () => {
    await send('frank@example.com', 'One', 'one');
    sim.clear();
    expect(sim.messages()).toEqual([]);

    await send('frank@example.com', 'Two', 'two');
    const deleted = await api('/messages', { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect(sim.messages()).toEqual([]);
    expect(await (await api('/messages')).json()).toEqual([]);
  });

  it('refuses mail with a 451 until accept() and stores nothing meanwhile', async () => {
    sim.refuse();
    await expect(send('gina@example.com', 'Refused', 'x')).rejects.toMatchObject(refusedBySimulator);
    expect(sim.messages()).toEqual([]);

    sim.accept();
    await send('gina@example.com', 'Accepted', 'y');
    expect(sim.messages().map((m) => m.subject)).toEqual(['Accepted']);
  });

  it('refuses mail only for forMs when given', async () => {
    sim.refuse(60);
    await expect(send('hank@example.com', 'Refused', 'x')).rejects.toMatchObject(refusedBySimulator);
    await sleep(100);
    await send('hank@example.com', 'Accepted', 'y');
    expect(sim.messages().map((m) => m.subject)).toEqual(['Accepted']);
  });

  it('refuses the DATA of a transaction that began before refuse() was called', async () => {
    const smtp = rawSmtp(sim.host, sim.smtpPort);
    try {
      expect(await smtp.command()).toMatch(/^220 /);
      expect(await smtp.command('EHLO test.local')).toMatch(/^250 /m);
      expect(await smtp.command('MAIL FROM:<no-reply@console.test>')).toMatch(/^250 /);
      expect(await smtp.command('RCPT TO:<ivy@example.com>')).toMatch(/^250 /);
      sim.refuse();
      expect(await smtp.command('DATA')).toMatch(/^354 /);
      expect(await smtp.command('Subject: late\r\n\r\nbody\r\n.')).toBe(
        '451 Temporary failure: mail simulator is refusing mail',
      );
      expect(sim.messages()).toEqual([]);
    } finally {
      smtp.close();
    }
  });

  it('toggles refusal with POST /faults and reports it on /healthz', async () => {
    expect((await postFault({ refuse: true, forMs: 30_000 })).status).toBe(204);
    expect(await (await api('/healthz')).json()).toEqual({ status: 'ok', messages: 0, refusing: true });
    await expect(send('jane@example.com', 'Refused', 'x')).rejects.toMatchObject(refusedBySimulator);

    expect((await postFault({ refuse: false })).status).toBe(204);
    await send('jane@example.com', 'Accepted', 'y');
    expect(await (await api('/healthz')).json()).toEqual({ status: 'ok', messages: 1, refusing: false });

    const invalid = await postFault({ refuse: 'yes' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({ error: '"refuse" must be a boolean' });
  });

  it('answers 404 with a JSON error for an unknown message id or route', async () => {
    const missing = await api('/messages/does-not-exist');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await missing.json()).toEqual({ error: 'No message with id "does-not-exist"' });

    const unknown = await api('/nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'No route for GET /nope' });
  });
});
