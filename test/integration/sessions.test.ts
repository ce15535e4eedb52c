import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import {
  LoginCodeRequestDocument,
  LoginCodeVerifyDocument,
  LogoutDocument,
  MeDocument,
  SessionRevokeDocument,
  SessionsDocument,
} from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

async function codeFor(stack: Stack, email: string): Promise<string> {
  const [message] = await stack.mail.waitFor({ to: email, subject: 'sign-in code' }, { timeoutMs: 10_000 });
  return /\b(\d{6})\b/.exec(message!.text)![1]!;
}

describe('sign-in codes and sessions', () => {
  let stack: Stack;
  const clock = new ManualClock(new Date());
  beforeAll(async () => {
    stack = await startStack({
      clock,
      env: { LOGIN_CODE_MAX_PER_WINDOW: '3', LOGIN_CODE_MAX_ATTEMPTS: '3' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('creates the account on first sign-in and answers me', async () => {
    const email = uniqueEmail('first');
    const { token, userId } = await stack.signIn(email.toUpperCase());
    const me = await stack.gqlOk(MeDocument, {}, token);
    expect(me.me).toEqual({ id: userId, email, name: null, staffRole: null });
    const again = await stack.signIn(email);
    expect(again.userId).toBe(userId);
  });

  it('answers me with null when anonymous or with an unknown token', async () => {
    expect((await stack.gqlOk(MeDocument, {})).me).toBeNull();
    expect((await stack.gqlOk(MeDocument, {}, 'not-a-real-token')).me).toBeNull();
  });

  it('refuses a malformed address with INVALID_EMAIL and sends nothing', async () => {
    const result = await stack.gqlOk(LoginCodeRequestDocument, { input: { email: 'not an address' } });
    expect(result.loginCodeRequest).toEqual({
      sent: false,
      userErrors: [{ code: 'INVALID_EMAIL', field: ['email'], message: expect.any(String) }],
    });
  });

  it('refuses oversized input with BAD_USER_INPUT', async () => {
    const result = await stack.gql(LoginCodeRequestDocument, {
      input: { email: `${'a'.repeat(400)}@example.com` },
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers a wrong code with INVALID_CODE, the same whether or not the account exists', async () => {
    const known = uniqueEmail('known');
    await stack.signIn(known);
    await stack.gqlOk(LoginCodeRequestDocument, { input: { email: known } });
    const realCode = await codeFor(stack, known);
    const wrong = realCode === '000000' ? '000001' : '000000';
    const onKnown = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email: known, code: wrong } });
    const onUnknown = await stack.gqlOk(LoginCodeVerifyDocument, {
      input: { email: uniqueEmail('ghost'), code: wrong },
    });
    expect(onKnown.loginCodeVerify).toEqual(onUnknown.loginCodeVerify);
    expect(onKnown.loginCodeVerify).toMatchObject({
      token: null,
      user: null,
      userErrors: [{ code: 'INVALID_CODE', field: ['code'] }],
    });
    stack.mail.clear();
  });

  it('voids a code after the allowed wrong guesses, even for the right code', async () => {
    const email = uniqueEmail('guess');
    await stack.gqlOk(LoginCodeRequestDocument, { input: { email } });
    const code = await codeFor(stack, email);
    const wrong = code === '111111' ? '222222' : '111111';
    for (let i = 0; i < 3; i++) {
      const r = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code: wrong } });
      expect(r.loginCodeVerify.userErrors[0]?.code).toBe('INVALID_CODE');
    }
    const right = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
    expect(right.loginCodeVerify.userErrors[0]?.code).toBe('INVALID_CODE');
    stack.mail.clear();
  });

  it('makes a code single-use', async () => {
    const email = uniqueEmail('once');
    await stack.gqlOk(LoginCodeRequestDocument, { input: { email } });
    const code = await codeFor(stack, email);
    const first = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
    expect(first.loginCodeVerify.token).toEqual(expect.any(String));
    const second = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
    expect(second.loginCodeVerify.userErrors[0]?.code).toBe('INVALID_CODE');
    stack.mail.clear();
  });

  it('expires a code after its lifetime', async () => {
    const email = uniqueEmail('late');
    await stack.gqlOk(LoginCodeRequestDocument, { input: { email } });
    const code = await codeFor(stack, email);
    clock.advance(601_000);
    const late = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
    expect(late.loginCodeVerify.userErrors[0]?.code).toBe('INVALID_CODE');
    stack.mail.clear();
  });

  it('rate-limits code requests per address with RATE_LIMITED', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 3; i++) {
      expect((await stack.gqlOk(LoginCodeRequestDocument, { input: { email } })).loginCodeRequest.sent).toBe(
        true,
      );
    }
    const limited = await stack.gql(LoginCodeRequestDocument, { input: { email } });
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 900 });
    // Another address is not affected.
    expect(
      (await stack.gqlOk(LoginCodeRequestDocument, { input: { email: uniqueEmail('other') } }))
        .loginCodeRequest.sent,
    ).toBe(true);
    clock.advance(901_000);
    expect((await stack.gqlOk(LoginCodeRequestDocument, { input: { email } })).loginCodeRequest.sent).toBe(
      true,
    );
    stack.mail.clear();
  });

  it('lists own sessions, revokes one, and logs out', async () => {
    const email = uniqueEmail('multi');
    const first = await stack.signIn(email);
    const second = await stack.signIn(email);
    const listed = await stack.gqlOk(SessionsDocument, {}, second.token);
    expect(listed.sessions.nodes).toHaveLength(2);
    expect(listed.sessions.nodes.filter((s) => s.current)).toHaveLength(1);
    expect(listed.sessions.nodes[0]?.current).toBe(true);
    const firstId = listed.sessions.nodes.find((s) => !s.current)!.id;

    const revoked = await stack.gqlOk(SessionRevokeDocument, { id: firstId }, second.token);
    expect(revoked.sessionRevoke.session.id).toBe(firstId);
    expect((await stack.gqlOk(MeDocument, {}, first.token)).me).toBeNull();

    const logout = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${second.token}` },
      body: JSON.stringify({ query: 'mutation { logout { revoked } }' }),
    });
    expect(logout.headers.get('set-cookie')).toMatch(/^ci_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await stack.gqlOk(MeDocument, {}, second.token)).me).toBeNull();
    const anonymous = await stack.gql(LogoutDocument, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("reads another user's session id as not found", async () => {
    const alice = await stack.signIn(uniqueEmail('alice'));
    const bob = await stack.signIn(uniqueEmail('bob'));
    const aliceSessions = await stack.gqlOk(SessionsDocument, {}, alice.token);
    const foreign = await stack.gql(
      SessionRevokeDocument,
      { id: aliceSessions.sessions.nodes[0]!.id },
      bob.token,
    );
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const missing = await stack.gql(
      SessionRevokeDocument,
      { id: '0190a0a0-0000-7000-8000-000000000000' },
      bob.token,
    );
    expect(missing.errors?.[0]).toMatchObject({
      message: foreign.errors?.[0]?.message,
      extensions: { code: 'NOT_FOUND' },
    });
    expect((await stack.gqlOk(MeDocument, {}, alice.token)).me).not.toBeNull();
  });

  it('resolves each of many concurrent requests to its own session, or to none', async () => {
    const users = await Promise.all(
      Array.from({ length: 6 }, (_, i) => stack.signIn(uniqueEmail(`concurrent${i}`))),
    );
    const revoked = await stack.signIn(uniqueEmail('concurrent-revoked'));
    await stack.app.orm.em
      .fork()
      .getConnection()
      .execute('update sessions set revoked_at = now() where user_id = ?', [revoked.userId]);
    const tokens = [...users.map((user) => user.token), revoked.token, 'unknown-token', users[0]!.token];
    // Requests of one moment are read in one query: each must still get its own answer.
    const answers = await Promise.all(
      tokens.map(async (token) => (await stack.gqlOk(MeDocument, {}, token)).me?.id ?? null),
    );
    const expected = [...users.map((user) => user.userId), null, null, users[0]!.userId];
    expect(answers).toEqual(expected);
    // Asked in the same turn of the event loop, so certainly in one query.
    const em = stack.app.orm.em.fork();
    const viewers = await Promise.all(
      tokens.map((token) => stack.app.services.sessions.authenticate(em, token)),
    );
    expect(viewers.map((viewer) => viewer?.userId ?? null)).toEqual(expected);
    // The query serves every request of the moment: never inside one request's transaction.
    await em.transactional((tx) =>
      expect(() => stack.app.services.sessions.authenticate(tx, tokens[0])).toThrow('outside transactions'),
    );
  });

  it('expires sessions after their lifetime', async () => {
    const { token } = await stack.signIn(uniqueEmail('ttl'));
    clock.advance(14 * 24 * 3600 * 1000 + 1000);
    expect((await stack.gqlOk(MeDocument, {}, token)).me).toBeNull();
  });

  it('refuses a forged pagination cursor with BAD_USER_INPUT', async () => {
    const result = await stack.gql(
      SessionsDocument,
      { first: 1, after: 'garbage-cursor' },
      (await stack.signIn(uniqueEmail('cursor'))).token,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});
