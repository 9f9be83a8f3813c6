import { envSchema, DEV_JWT_SECRET, type AgentDefinition, type Env } from './env.schema';
import type { TrustProxy } from './trusted-proxies';

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384';

export type JwtKeySource =
  | { kind: 'secret'; secret: string; isDevelopmentSecret: boolean }
  | { kind: 'public-key'; pem: string }
  | { kind: 'jwks'; url: string };

export interface AuthConfig {
  key: JwtKeySource;
  /** Only these algorithms are accepted: HMAC for a secret, asymmetric for keys, never `none`. */
  algorithms: JwtAlgorithm[];
  issuer?: string;
  audience?: string;
  clockToleranceSeconds: number;
}

export interface HttpConfig {
  host: string;
  port: number;
  bodyLimitBytes: number;
  /** How long a client may take to send a whole request, headers and body (then 408 and closed). */
  requestTimeoutMs: number;
  /** Browser origins allowed to call the API and open WebSockets: '*' for any (development's default). */
  allowedOrigins: '*' | string[];
  /** Proxies believed about the client's address (X-Forwarded-For); none when undefined. */
  trustProxy?: TrustProxy;
  /** Whether the public health routes name agent addresses and dependencies' error texts. */
  healthDetails: boolean;
}

export interface DatabaseConfig {
  /** Postgres server; without it the embedded PGlite database in dataDir is used. */
  url?: string;
  dataDir: string;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

export interface HistoryConfig {
  maxMessages: number;
  maxChars: number;
}

export interface SessionsConfig {
  /** Sessions unused for this many days are deleted with their messages; 0 keeps them. */
  retentionDays: number;
  /** Active (not closed) sessions one user may have: a client creating them in a loop stops here. */
  maxActivePerUser: number;
}

export interface RedisConfig {
  /** Shared cache, rate-limit counters and stream buffers; without it all stay in this process. */
  url?: string;
  commandTimeoutMs: number;
  keyPrefix: string;
}

export interface StreamConfig {
  /** How long a run outlives its last client (0: cancel at once) and how long its events are kept. */
  resumeWindowMs: number;
  firstChunkTimeoutMs: number;
  idleTimeoutMs: number;
  maxDurationMs: number;
  heartbeatMs: number;
  maxPerUser: number;
  /** Open WebSockets per user, on each replica. */
  maxSocketsPerUser: number;
  maxRunBytes: number;
  ticketSecret?: string;
  ticketTtlSeconds: number;
}

export interface RateLimitConfig {
  /** Named windows, all enforced: each admits `limit` requests per `ttl_ms` per caller. */
  limits: { name: string; ttl_ms: number; limit: number }[];
  /** With Redis unreachable: true lets requests through (the default), false refuses them (503). */
  failOpen: boolean;
  /** Bound on callers tracked in memory (without Redis). */
  maxKeys: number;
}

export interface CacheConfig {
  /** In-process LRU (L1): at most maxEntries answers and maxBytes of them (as JSON), none over maxEntryBytes. */
  maxEntries: number;
  maxEntryBytes: number;
  maxBytes: number;
}

export interface ShutdownConfig {
  /** After SIGTERM, readiness fails at once; new connections are still served this long, for load balancers to notice. */
  delayMs: number;
  /** Then in-flight work has this long to finish before remaining connections are cut. */
  drainTimeoutMs: number;
}

export interface LimitsConfig {
  batchConcurrency: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const HMAC_ALGORITHMS: JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC_ALGORITHMS: JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'];
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** The typed configuration, validated once from the environment; injected by this class. */
export class AppConfig {
  readonly nodeEnv: Env['NODE_ENV'];
  readonly logLevel: Env['LOG_LEVEL'];
  readonly http: HttpConfig;
  readonly auth: AuthConfig;
  readonly agents: AgentDefinition[];
  readonly limits: LimitsConfig;
  readonly shutdown: ShutdownConfig;
  readonly rateLimit: RateLimitConfig;
  readonly cache: CacheConfig;
  readonly database: DatabaseConfig;
  readonly history: HistoryConfig;
  readonly sessions: SessionsConfig;
  readonly redis: RedisConfig;
  readonly stream: StreamConfig;

  private constructor(env: Env) {
    this.nodeEnv = env.NODE_ENV;
    this.logLevel = env.LOG_LEVEL;
    this.http = {
      host: env.HOST,
      port: env.PORT,
      bodyLimitBytes: env.MAX_BODY_BYTES,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      allowedOrigins: allowedOrigins(env),
      trustProxy: env.TRUST_PROXY,
      healthDetails: env.HEALTH_DETAILS === 'true',
    };
    this.auth = authConfig(env);
    this.agents = env.AGENTS;
    this.limits = { batchConcurrency: env.BATCH_CONCURRENCY };
    this.rateLimit = {
      limits: env.RATE_LIMITS,
      failOpen: env.RATE_LIMIT_FAIL_OPEN === 'true',
      maxKeys: env.RATE_LIMIT_MAX_KEYS,
    };
    this.cache = {
      maxEntries: env.CACHE_MAX_ENTRIES,
      maxEntryBytes: env.CACHE_MAX_ENTRY_BYTES,
      maxBytes: env.CACHE_MAX_BYTES,
    };
    this.shutdown = { delayMs: env.SHUTDOWN_DELAY_MS, drainTimeoutMs: env.DRAIN_TIMEOUT_MS };
    this.database = {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      poolMax: env.DB_POOL_MAX,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    };
    this.history = { maxMessages: env.HISTORY_MAX_MESSAGES, maxChars: env.HISTORY_MAX_CHARS };
    this.sessions = {
      retentionDays: env.SESSION_RETENTION_DAYS,
      maxActivePerUser: env.MAX_ACTIVE_SESSIONS_PER_USER,
    };
    this.redis = {
      url: env.REDIS_URL,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
      keyPrefix: env.REDIS_KEY_PREFIX,
    };
    this.stream = {
      resumeWindowMs: env.STREAM_RESUME_WINDOW_MS,
      firstChunkTimeoutMs: env.STREAM_FIRST_CHUNK_TIMEOUT_MS,
      idleTimeoutMs: env.STREAM_IDLE_TIMEOUT_MS,
      maxDurationMs: env.STREAM_MAX_DURATION_MS,
      heartbeatMs: env.STREAM_HEARTBEAT_MS,
      maxPerUser: env.MAX_STREAMS_PER_USER,
      maxSocketsPerUser: env.MAX_WEBSOCKETS_PER_USER,
      maxRunBytes: env.MAX_RUN_BYTES,
      ticketSecret: env.STREAM_TICKET_SECRET,
      ticketTtlSeconds: env.STREAM_TICKET_TTL_SECONDS,
    };
  }

  get isProduction(): boolean {
    return this.nodeEnv === 'production';
  }

  /** Validates the environment; throws ConfigError naming every bad variable. */
  static fromEnv(env: NodeJS.ProcessEnv): AppConfig {
    // An empty variable (as a copied .env.example has) means "not set".
    const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
    const parsed = envSchema.safeParse(given);
    if (!parsed.success) {
      throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`));
    }
    const problems = productionProblems(parsed.data);
    if (problems.length > 0) throw new ConfigError(problems);
    return new AppConfig(parsed.data);
  }
}

function authConfig(env: Env): AuthConfig {
  const common = {
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
  };
  if (env.JWT_PUBLIC_KEY) {
    // Variables cannot hold newlines everywhere: accept "\n" escapes in the PEM.
    return {
      ...common,
      key: { kind: 'public-key', pem: env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') },
      algorithms: ASYMMETRIC_ALGORITHMS,
    };
  }
  if (env.JWKS_URL) return { ...common, key: { kind: 'jwks', url: env.JWKS_URL }, algorithms: ASYMMETRIC_ALGORITHMS };
  const secret = env.JWT_SECRET ?? DEV_JWT_SECRET;
  return {
    ...common,
    key: { kind: 'secret', secret, isDevelopmentSecret: secret === DEV_JWT_SECRET },
    algorithms: HMAC_ALGORITHMS,
  };
}

function productionProblems(env: Env): string[] {
  const problems: string[] = [];
  const keySources = [env.JWT_SECRET, env.JWT_PUBLIC_KEY, env.JWKS_URL].filter(Boolean).length;
  if (keySources > 1) problems.push('JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL: set only one of them');
  if (env.NODE_ENV !== 'production') return problems;
  if (keySources === 0) {
    problems.push(
      'JWT_SECRET: required in production (or JWT_PUBLIC_KEY / JWKS_URL); the development secret is refused',
    );
  } else if (env.JWT_SECRET === DEV_JWT_SECRET) {
    problems.push('JWT_SECRET: the development secret is refused in production');
  } else if (env.JWT_SECRET) {
    problems.push(...secretProblems('JWT_SECRET', env.JWT_SECRET));
  }
  if (env.STREAM_TICKET_SECRET) problems.push(...secretProblems('STREAM_TICKET_SECRET', env.STREAM_TICKET_SECRET));
  return problems;
}

/** How this repository's examples (deploy/k8s/secret.example.yaml) mark a value to replace: public text. */
const PLACEHOLDER = /^replace-with\b/i;

/** A signing secret anyone could guess or read in our examples is refused in production. */
function secretProblems(name: string, secret: string): string[] {
  if (PLACEHOLDER.test(secret)) return [`${name}: still the example's placeholder; set a secret of your own`];
  if (secret.length < MIN_PRODUCTION_SECRET_LENGTH) {
    return [`${name}: must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters in production`];
  }
  return [];
}

/** Unset: any origin in development, none in production, where browsers must be named. */
function allowedOrigins(env: Env): '*' | string[] {
  if (env.ALLOWED_ORIGINS === undefined) return env.NODE_ENV === 'production' ? [] : '*';
  const origins = env.ALLOWED_ORIGINS.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  return origins.includes('*') ? '*' : origins;
}
