import { z } from 'zod';
import { trustProxySchema } from './trusted-proxies';
import { jsonText } from '../common/json-text';

/** The development signing secret: accepted only outside production, where it is refused at start-up. */
export const DEV_JWT_SECRET = 'agent-gateway-development-secret-do-not-use-in-production';

const AGENT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** host:port, [ipv6]:port, or a grpc-js scheme such as dns:///host:port or unix:/path. */
const GRPC_TARGET = /^(?:[a-z]+:[^\s]+|\[[0-9a-f:]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$/i;

const breakerSchema = z
  .strictObject({
    /** Share of failed calls in the rolling window that opens the breaker. */
    error_threshold_percentage: z.number().min(1).max(100).default(50),
    rolling_window_ms: z.number().int().min(1000).max(600_000).default(10_000),
    /** Calls in the window before the breaker may open at all (opossum's default of 0 opens on one failure). */
    volume_threshold: z.number().int().min(1).max(100_000).default(10),
    /** Time open before one probe call is let through (half-open). */
    reset_timeout_ms: z.number().int().min(100).max(600_000).default(5000),
  })
  .prefault({});

const retrySchema = z
  .strictObject({
    /** Attempts per unary call, the first included; 1 disables retries. */
    max_attempts: z.number().int().min(1).max(10).default(3),
    base_backoff_ms: z.number().int().min(1).max(10_000).default(25),
    max_backoff_ms: z.number().int().min(1).max(60_000).default(1000),
    /** Retries allowed as a share of calls over the last 10 s, plus a small floor per second. */
    budget_percent: z.number().min(0).max(100).default(20),
    min_retries_per_second: z.number().min(0).max(1000).default(5),
  })
  .prefault({});

/** See CancelPacer: nghttp2 servers close a connection past 1,000 resets at once or 33 a second. */
const cancelPacingSchema = z
  .strictObject({
    /** Cancels sent at once before pacing starts. */
    burst: z.number().int().min(1).max(1_000_000).default(500),
    /** Cancels sent per second past the burst. */
    per_second: z.number().min(1).max(1_000_000).default(25),
  })
  .prefault({});

const cacheSchema = z
  .strictObject({
    /** How long an answer is served from cache; 0 (the default) disables caching for the agent. */
    ttl_ms: z.number().int().min(0).max(86_400_000).default(0),
    /** Answers do not depend on who asks: one user's cached answer may be served to another. */
    shareable: z.boolean().default(false),
  })
  .prefault({});

const agentSchema = z.object({
  id: z.string().regex(AGENT_ID, 'lowercase letters, digits, - and _ (at most 63)'),
  name: z.string().min(1).max(200).optional(),
  type: z.enum(['rag', 'tool', 'chat']).default('rag'),
  targets: z.array(z.string().regex(GRPC_TARGET, 'a gRPC target such as host:50051')).min(1).max(64),
  deadline_ms: z.number().int().min(1).max(3_600_000).default(30_000),
  description: z.string().max(2000).optional(),
  /** Bulkhead: calls in flight to this agent past which new ones are refused at once (503). */
  max_in_flight: z.number().int().min(1).max(100_000).default(100),
  breaker: breakerSchema,
  retry: retrySchema,
  cache: cacheSchema,
  cancel_pacing: cancelPacingSchema,
});

export type AgentDefinition = z.infer<typeof agentSchema>;

const agentsSchema = jsonText('must be JSON: [{"id":"rag-1","targets":["host:50051"]}]').pipe(
  z
    .array(agentSchema)
    .min(1)
    .max(256)
    .refine((agents) => new Set(agents.map((a) => a.id)).size === agents.length, 'agent ids must be unique'),
);

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

/** AGENTS when unset: the built-in reference agent (which `npm start` runs on AGENT_PORT). */
export const defaultAgents = (port: number | string = 50051): string =>
  JSON.stringify([
    {
      id: 'reference',
      name: 'Reference retrieval agent',
      type: 'rag',
      targets: [`127.0.0.1:${port}`],
      deadline_ms: 30000,
      cache: { ttl_ms: 60000 },
    },
  ]);

const rateLimitsSchema = jsonText('must be JSON: [{"name":"second","ttl_ms":1000,"limit":20}]').pipe(
  z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
        ttl_ms: z.number().int().min(100).max(86_400_000),
        limit: z.number().int().min(1).max(1_000_000),
      }),
    )
    .min(1)
    .max(8),
);

export const DEFAULT_RATE_LIMITS = JSON.stringify([
  { name: 'second', ttl_ms: 1000, limit: 20 },
  { name: 'minute', ttl_ms: 60_000, limit: 600 },
]);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535, 3000),
  TRUST_PROXY: trustProxySchema,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  JWT_SECRET: optionalText,
  JWT_PUBLIC_KEY: optionalText,
  JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_CLOCK_TOLERANCE_SECONDS: int(0, 300, 5),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  DB_POOL_MAX: int(1, 200, 10),
  DB_CONNECT_TIMEOUT_MS: int(100, 120_000, 5000),
  DB_STATEMENT_TIMEOUT_MS: int(100, 600_000, 10_000),
  // History is whole turns, a question with its answer: a bound of 1 would send none, like 0, by surprise.
  HISTORY_MAX_MESSAGES: int(0, 500, 20).refine((max) => max !== 1, {
    message: '1 cannot hold a question with its answer: 0 sends no history, 2 or more the newest whole turns',
  }),
  HISTORY_MAX_CHARS: int(0, 1_000_000, 16_000),
  SESSION_RETENTION_DAYS: int(0, 36_500, 0),
  MAX_ACTIVE_SESSIONS_PER_USER: int(1, 1_000_000, 10_000),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000, 500),
  REDIS_KEY_PREFIX: z.string().max(64).default('agent-gateway:'),

  STREAM_RESUME_WINDOW_MS: int(0, 3_600_000, 5000),
  STREAM_FIRST_CHUNK_TIMEOUT_MS: int(100, 3_600_000, 30_000),
  STREAM_IDLE_TIMEOUT_MS: int(100, 3_600_000, 30_000),
  STREAM_MAX_DURATION_MS: int(1000, 86_400_000, 600_000),
  STREAM_HEARTBEAT_MS: int(100, 600_000, 15_000),
  MAX_STREAMS_PER_USER: int(1, 10_000, 8),
  MAX_WEBSOCKETS_PER_USER: int(1, 10_000, 32),
  MAX_RUN_BYTES: int(1024, 64 * 1024 * 1024, 2 * 1024 * 1024),
  STREAM_TICKET_SECRET: optionalText,
  STREAM_TICKET_TTL_SECONDS: int(5, 3600, 60),
  ALLOWED_ORIGINS: optionalText,
  HEALTH_DETAILS: z.enum(['true', 'false']).default('false'),

  AGENTS: agentsSchema.prefault(defaultAgents()),

  SHUTDOWN_DELAY_MS: int(0, 120_000, 3000),
  DRAIN_TIMEOUT_MS: int(100, 600_000, 20_000),

  RATE_LIMITS: rateLimitsSchema.prefault(DEFAULT_RATE_LIMITS),
  RATE_LIMIT_FAIL_OPEN: z.enum(['true', 'false']).default('true'),
  RATE_LIMIT_MAX_KEYS: int(1000, 10_000_000, 100_000),
  CACHE_MAX_ENTRIES: int(1, 10_000_000, 10_000),
  CACHE_MAX_ENTRY_BYTES: int(1024, 16 * 1024 * 1024, 256 * 1024),
  CACHE_MAX_BYTES: int(1024 * 1024, 64 * 1024 * 1024 * 1024, 64 * 1024 * 1024),

  MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024, 1024 * 1024),
  HTTP_REQUEST_TIMEOUT_MS: int(100, 600_000, 30_000),
  BATCH_CONCURRENCY: int(1, 256, 4),
});

export type Env = z.infer<typeof envSchema>;
