import type { AgentDefinition } from '../config/env.schema';

/** What the pacer needs of a gRPC call: unary and streaming calls both have these. */
export interface CancellableCall {
  cancel(): void;
  once(event: 'status', listener: () => void): unknown;
}

type CancelPacing = AgentDefinition['cancel_pacing'];

interface Pending {
  /** Unset once the call is cancelled or ends by itself. */
  call: CancellableCall | undefined;
}

/**
 * Paces the RST_STREAM frames (call cancellations) one agent target sees. HTTP/2 servers built on
 * nghttp2 (Node's, so every grpc-js agent; Envoy) defend against "rapid reset" by closing the whole
 * connection when a client resets more than 1,000 streams at once or more than 33 a second after
 * that, and every other call on the connection fails. A mass disconnect of stream clients does
 * exactly that. So past the burst, cancels wait their turn, and a call that ends by itself meanwhile
 * (the agent finishing, its deadline) costs nothing. A waiting stream is still read, its chunks
 * dropped: paused, it would keep up to an HTTP/2 window of small frames unread (about 0.3 MB for a
 * token stream), enough to exhaust memory when thousands of streaming clients leave at once, and the
 * agent could never finish it.
 */
export class CancelPacer {
  private tokens: number;
  private refilledAt = performance.now();
  /**
   * Waiting calls in order. An entry lets go of its call once the call is cancelled or ends by itself,
   * and slots before `head` are cleared: the queue keeps alive no call it is finished with.
   */
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pacing: CancelPacing,
    private readonly onPendingChange: (pending: number) => void = () => undefined,
  ) {
    this.tokens = pacing.burst;
  }

  /** Calls waiting to be cancelled. */
  get pending(): number {
    return this.waiting;
  }

  cancel(call: CancellableCall): void {
    this.refill();
    if (this.waiting === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      call.cancel();
      return;
    }
    const entry: Pending = { call };
    call.once('status', () => {
      if (entry.call === undefined) return; // cancelled by us
      entry.call = undefined;
      this.release(1);
    });
    this.queue.push(entry);
    this.waiting += 1;
    this.onPendingChange(this.waiting);
    this.schedule();
  }

  /** Cancels everything waiting, at once: the channel is closing anyway. */
  flush(): void {
    const calls = this.queue.slice(this.head).flatMap((entry) => {
      const call = entry?.call;
      if (entry) entry.call = undefined;
      return call ? [call] : [];
    });
    this.release(this.waiting);
    for (const call of calls) call.cancel();
  }

  private drain(): void {
    this.timer = undefined;
    this.refill();
    let sent = 0;
    for (; this.head < this.queue.length; this.head += 1) {
      const entry = this.queue[this.head];
      if (entry?.call) {
        if (this.tokens < 1) break;
        this.tokens -= 1;
        const call = entry.call;
        entry.call = undefined;
        call.cancel();
        sent += 1;
      }
      this.queue[this.head] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.release(sent);
    this.schedule();
  }

  /** `n` waiting calls are done with (cancelled, or ended by themselves). */
  private release(n: number): void {
    if (n === 0) return;
    this.waiting -= n;
    if (this.waiting === 0) {
      // Whatever is left in the queue has ended: drop it, and the timer with it.
      this.queue = [];
      this.head = 0;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.onPendingChange(this.waiting);
  }

  private schedule(): void {
    if (this.timer || this.waiting === 0) return;
    const waitMs = Math.max(1, ((1 - this.tokens) / this.pacing.per_second) * 1000);
    this.timer = setTimeout(() => this.drain(), waitMs);
    // Queued cancels must not keep a process alive; shutdown flushes them.
    this.timer.unref();
  }

  private refill(): void {
    const now = performance.now();
    const earned = ((now - this.refilledAt) / 1000) * this.pacing.per_second;
    this.tokens = Math.min(this.pacing.burst, this.tokens + earned);
    this.refilledAt = now;
  }
}
