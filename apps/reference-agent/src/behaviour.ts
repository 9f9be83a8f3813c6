import { status } from '@grpc/grpc-js';

/**
 * Switches for tests and benchmarks. Defaults come from the environment; a request may override
 * them through its options (ref_latency_ms, ref_tokens_per_second, ref_repeat, ref_fail, ref_fail_rate,
 * ref_fail_after_chunks) only with AGENT_ALLOW_OVERRIDES=true: else any caller of the gateway could
 * make the agent fail and open its breaker for everyone.
 */
export interface Behaviour {
  latencyMs: number;
  tokensPerSecond: number;
  /** Streams only: the answer is streamed this many times over (a long answer). */
  repeat: number;
  /** A gRPC status name (UNAVAILABLE, INTERNAL, ...) to fail with, or undefined. */
  fail?: keyof typeof status;
  failRate: number;
  /** For streams: fail after this many chunks were sent. */
  failAfterChunks?: number;
}

export interface BehaviourDefaults {
  latencyMs: number;
  tokensPerSecond: number;
  failRate: number;
  allowOverrides: boolean;
}

function num(value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(Math.max(n, min), max) : fallback;
}

function statusName(value: string | undefined): keyof typeof status | undefined {
  if (!value) return undefined;
  const name = value.toUpperCase();
  return name in status && name !== 'OK' ? (name as keyof typeof status) : undefined;
}

export function behaviourDefaultsFromEnv(env: NodeJS.ProcessEnv): BehaviourDefaults {
  return {
    latencyMs: num(env.AGENT_LATENCY_MS, 0, 0, 600_000),
    tokensPerSecond: num(env.AGENT_TOKENS_PER_SECOND, 50, 0, 1_000_000),
    failRate: num(env.AGENT_FAIL_RATE, 0, 0, 1),
    allowOverrides: env.AGENT_ALLOW_OVERRIDES === 'true',
  };
}

export function resolveBehaviour(defaults: BehaviourDefaults, options: Record<string, string>): Behaviour {
  const o = defaults.allowOverrides ? options : {};
  const failAfter = o.ref_fail_after_chunks;
  return {
    latencyMs: num(o.ref_latency_ms, defaults.latencyMs, 0, 600_000),
    tokensPerSecond: num(o.ref_tokens_per_second, defaults.tokensPerSecond, 0, 1_000_000),
    repeat: Math.trunc(num(o.ref_repeat, 1, 1, 10_000)),
    fail: statusName(o.ref_fail),
    failRate: num(o.ref_fail_rate, defaults.failRate, 0, 1),
    failAfterChunks: failAfter === undefined ? undefined : num(failAfter, 0, 0, 1_000_000),
  };
}

/** The status a call should fail with now, if any. */
export function failureFor(b: Behaviour): keyof typeof status | undefined {
  if (b.fail && b.failAfterChunks === undefined) return b.fail;
  if (b.failRate > 0 && Math.random() < b.failRate) return 'UNAVAILABLE';
  return undefined;
}
