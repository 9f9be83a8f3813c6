import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig, ConfigError } from './app-config';
import { DEV_JWT_SECRET, envSchema } from './env.schema';

function problemsOf(env: Record<string, string>): string {
  try {
    AppConfig.fromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('AppConfig.fromEnv', () => {
  it('starts on embedded defaults: the reference agent, port 3000, the development secret', () => {
    const config = AppConfig.fromEnv({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(config.agents).toEqual([expect.objectContaining({ id: 'reference', targets: ['127.0.0.1:50051'] })]);
    // The default goes through the same schema as a configured value: every field has its default.
    expect(config.agents[0]).toMatchObject({
      max_in_flight: 100,
      breaker: { volume_threshold: 10 },
      retry: { max_attempts: 3 },
      cancel_pacing: { burst: 500, per_second: 25 },
    });
    expect(config.auth.key).toMatchObject({ kind: 'secret', isDevelopmentSecret: true });
    expect(config.auth.algorithms).toEqual(['HS256', 'HS384', 'HS512']);
  });

  it('treats empty variables, as in a copied .env.example, as not set', () => {
    const config = AppConfig.fromEnv({ AGENTS: '', JWKS_URL: '', DATABASE_URL: '', PORT: '' });
    expect(config.http.port).toBe(3000);
    expect(config.agents[0].id).toBe('reference');
  });

  it('names the variable when a value is bad', () => {
    expect(problemsOf({ PORT: 'eighty' })).toMatch(/PORT/);
    expect(problemsOf({ DATABASE_URL: 'mysql://x' })).toMatch(/DATABASE_URL/);
    expect(problemsOf({ LOG_LEVEL: 'loud' })).toMatch(/LOG_LEVEL/);
  });

  it('refuses a history bound of 1 message, which cannot hold a question with its answer, so sends none', () => {
    expect(problemsOf({ HISTORY_MAX_MESSAGES: '1' })).toContain(
      'HISTORY_MAX_MESSAGES: 1 cannot hold a question with its answer: 0 sends no history, 2 or more the newest whole turns',
    );
    expect(AppConfig.fromEnv({ HISTORY_MAX_MESSAGES: '0' }).history.maxMessages).toBe(0);
    expect(AppConfig.fromEnv({ HISTORY_MAX_MESSAGES: '2' }).history.maxMessages).toBe(2);
  });

  it('explains what AGENTS must look like', () => {
    expect(problemsOf({ AGENTS: 'rag-1=host:1' })).toMatch(/AGENTS: must be JSON/);
    expect(problemsOf({ AGENTS: '[{"id":"Bad Id","targets":["h:1"]}]' })).toMatch(/AGENTS\.0\.id/);
    expect(problemsOf({ AGENTS: '[{"id":"a","targets":[]}]' })).toMatch(/AGENTS\.0\.targets/);
    expect(problemsOf({ AGENTS: '[{"id":"a","targets":["h:1"],"cancel_pacing":{"per_second":0}}]' })).toMatch(
      /AGENTS\.0\.cancel_pacing\.per_second/,
    );
    expect(problemsOf({ AGENTS: '[{"id":"a","targets":["h:1"]},{"id":"a","targets":["h:2"]}]' })).toMatch(
      /agent ids must be unique/,
    );
  });

  it('reads agents with several targets and their deadlines', () => {
    const config = AppConfig.fromEnv({
      AGENTS: '[{"id":"rag-1","type":"rag","targets":["a:50051","dns:///b:50051"],"deadline_ms":5000}]',
    });
    expect(config.agents[0]).toMatchObject({ id: 'rag-1', targets: ['a:50051', 'dns:///b:50051'], deadline_ms: 5000 });
  });

  describe('in production', () => {
    it('refuses to start without a secret or key', () => {
      expect(problemsOf({ NODE_ENV: 'production' })).toMatch(/JWT_SECRET: required in production/);
    });

    it('refuses the development secret', () => {
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: DEV_JWT_SECRET })).toMatch(/development secret/);
    });

    it('refuses a short secret', () => {
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toMatch(/at least 32/);
    });

    it('refuses a placeholder secret, and a short stream ticket secret', () => {
      const real = 'x'.repeat(40);
      const placeholder = 'replace-with-a-secret-of-32-characters-or-more';
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: placeholder })).toMatch(
        /JWT_SECRET: still the example's placeholder/,
      );
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: real, STREAM_TICKET_SECRET: placeholder })).toMatch(
        /STREAM_TICKET_SECRET: still the example's placeholder/,
      );
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: real, STREAM_TICKET_SECRET: 'short' })).toMatch(
        /STREAM_TICKET_SECRET: must be at least 32/,
      );
      const accepted = AppConfig.fromEnv({
        NODE_ENV: 'production',
        JWT_SECRET: real,
        STREAM_TICKET_SECRET: 'y'.repeat(40),
      });
      expect(accepted.stream.ticketSecret).toBe('y'.repeat(40));
    });

    it('starts with a real secret', () => {
      const config = AppConfig.fromEnv({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) });
      expect(config.auth.key).toMatchObject({ kind: 'secret', isDevelopmentSecret: false });
    });
  });

  it('refuses two key sources at once', () => {
    expect(problemsOf({ JWT_SECRET: 'x'.repeat(40), JWKS_URL: 'https://idp.test/jwks' })).toMatch(/only one/);
  });

  it('allows browsers from any origin in development, from none in production, unless ALLOWED_ORIGINS names them', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) } as const;
    expect(AppConfig.fromEnv({}).http.allowedOrigins).toBe('*');
    expect(AppConfig.fromEnv(production).http.allowedOrigins).toEqual([]);
    expect(
      AppConfig.fromEnv({ ...production, ALLOWED_ORIGINS: ' https://a.example, https://b.example' }).http,
    ).toMatchObject({ allowedOrigins: ['https://a.example', 'https://b.example'] });
    expect(AppConfig.fromEnv({ ...production, ALLOWED_ORIGINS: 'https://a.example,*' }).http.allowedOrigins).toBe('*');
  });
});

describe('.env.example', () => {
  const example = readFileSync(join(__dirname, '..', '..', '..', '..', '.env.example'), 'utf8');
  const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));

  it('lists every variable the gateway reads', () => {
    expect(Object.keys(envSchema.shape).filter((name) => !documented.has(name))).toEqual([]);
  });

  it('is a configuration the gateway accepts as it is', () => {
    const env = Object.fromEntries([...example.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(() => AppConfig.fromEnv(env)).not.toThrow();
  });
});
