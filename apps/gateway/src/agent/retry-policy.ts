import type { AgentDefinition } from '../config/env.schema';

type RetryConfig = AgentDefinition['retry'];

const BUDGET_WINDOW_S = 10;

/**
 * Events over the last `seconds` seconds, counted in one-second buckets: fixed memory and O(1) per
 * event whatever the rate (a timestamp per call grew by 8 bytes a call on an agent that never failed).
 */
class SlidingCount {
  private readonly counts: number[];
  private readonly secondOf: number[];

  constructor(private readonly seconds: number) {
    this.counts = new Array<number>(seconds).fill(0);
    this.secondOf = new Array<number>(seconds).fill(-Infinity);
  }

  add(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.seconds;
    if (this.secondOf[i] !== second) {
      this.secondOf[i] = second;
      this.counts[i] = 0;
    }
    this.counts[i] += 1;
  }

  total(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < this.seconds; i++) if (second - this.secondOf[i] < this.seconds) sum += this.counts[i];
    return sum;
  }
}

/**
 * A retry budget: retries may add at most `budget_percent` of the calls seen in the last 10 s
 * (plus a small floor), so that during an outage retries cannot multiply the load on the agent.
 */
export class RetryBudget {
  private readonly calls = new SlidingCount(BUDGET_WINDOW_S);
  private readonly retries = new SlidingCount(BUDGET_WINDOW_S);

  constructor(
    private readonly config: RetryConfig,
    private readonly now: () => number = Date.now,
  ) {}

  recordCall(): void {
    this.calls.add(this.now());
  }

  /** Takes one retry from the budget if there is one left. */
  tryAcquire(): boolean {
    const now = this.now();
    const allowed =
      (this.config.budget_percent / 100) * this.calls.total(now) + this.config.min_retries_per_second * BUDGET_WINDOW_S;
    if (this.retries.total(now) >= allowed) return false;
    this.retries.add(now);
    return true;
  }
}

/** Exponential backoff with full jitter: a random wait up to base * 2^retry, capped. */
export function backoffMs(config: RetryConfig, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(config.max_backoff_ms, config.base_backoff_ms * 2 ** retry);
  return Math.floor(random() * ceiling);
}
