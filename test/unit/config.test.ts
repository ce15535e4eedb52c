import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('has working defaults for a fresh machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      publicUrl: 'http://localhost:4000',
      databaseUrl: undefined,
      brand: 'anthropic',
      groupPrefix: 'anthropic-',
      dnsServers: ['127.0.0.1:5353'],
      simulators: { enabled: true },
      session: { cookieSecure: false },
    });
  });

  it('derives Secure cookies from an https PUBLIC_URL and trims its trailing slash', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://id.example.com/' });
    expect(config.publicUrl).toBe('https://id.example.com');
    expect(config.session.cookieSecure).toBe(true);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['PUBLIC_URL', 'not a url'],
    ['BRAND', 'Has Spaces'],
    ['GROUP_PREFIX', 'ünicode-'],
    ['SIMULATORS', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['SESSION_TTL_SECONDS', '-5'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.some((issue) => issue.startsWith(`${name}:`))).toBe(true);
  });

  it('reports every invalid variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', BRAND: 'X Y' })).toThrowError(
      /PORT:[\s\S]*BRAND:|BRAND:[\s\S]*PORT:/,
    );
  });
});
