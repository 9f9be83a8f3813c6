import type { DrainState } from '../health/drain-state';

export interface OpenStreamsOptions<T> {
  /** Run on every open stream each `everyMs` (a heartbeat). */
  everyMs: number;
  tick: (stream: T) => void;
  /** Run on every open stream when the gateway drains, and at once on one added while it drains. */
  drain: DrainState;
  onDrain: (stream: T) => void;
}

/**
 * The open streams of one transport: one timer visits them all and one drain listener tells them
 * all, instead of a timer and a listener for each (memory per open stream).
 */
export class OpenStreams<T> {
  private readonly open = new Set<T>();
  private timer?: NodeJS.Timeout;
  private stopOnDrain?: () => void;

  constructor(private readonly options: OpenStreamsOptions<T>) {}

  start(): void {
    const { everyMs, tick, drain, onDrain } = this.options;
    this.timer = setInterval(() => this.open.forEach(tick), everyMs);
    this.stopOnDrain = drain.onDrain(() => this.open.forEach(onDrain));
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopOnDrain?.();
  }

  /** Follows `stream` until `delete`; false (and `onDrain` has run) if the gateway is draining. */
  add(stream: T): boolean {
    if (this.options.drain.draining) {
      this.options.onDrain(stream);
      return false;
    }
    this.open.add(stream);
    return true;
  }

  delete(stream: T): void {
    this.open.delete(stream);
  }
}
