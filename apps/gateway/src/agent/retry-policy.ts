import type { AgentDefinition } from '../config/env.schema';

type RetryConfig = AgentDefinition['retry'];

const BUDGET_WINDOW_MS = 10_000;

/**
 * A retry budget: retries may add at most `budget_percent` of the calls seen in the last 10 s
 * (plus a small floor), so that during an outage retries cannot multiply the load on the agent.
 */
export class RetryBudget {
  private calls: number[] = [];
  private retries: number[] = [];

  constructor(
    private readonly config: RetryConfig,
    private readonly now: () => number = Date.now,
  ) {}

  recordCall(): void {
    this.calls.push(this.now());
  }

  /** Takes one retry from the budget if there is one left. */
  tryAcquire(): boolean {
    const now = this.now();
    this.calls = this.calls.filter((t) => now - t < BUDGET_WINDOW_MS);
    this.retries = this.retries.filter((t) => now - t < BUDGET_WINDOW_MS);
    const allowed =
      (this.config.budget_percent / 100) * this.calls.length +
      this.config.min_retries_per_second * (BUDGET_WINDOW_MS / 1000);
    if (this.retries.length >= allowed) return false;
    this.retries.push(now);
    return true;
  }
}

/** Exponential backoff with full jitter: a random wait up to base * 2^retry, capped. */
export function backoffMs(config: RetryConfig, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(config.max_backoff_ms, config.base_backoff_ms * 2 ** retry);
  return Math.floor(random() * ceiling);
}
