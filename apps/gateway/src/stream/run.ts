import { EventEmitter } from 'node:events';

export type RunEventName = 'start' | 'chunk' | 'done' | 'error';

export interface RunEvent {
  /** Position in the run, from 0; with the run id it is the SSE event id. */
  seq: number;
  event: RunEventName;
  data: Record<string, unknown>;
}

/** What a chunk event carries besides its text (run id, seq, keys), for the run's size bound. */
const CHUNK_OVERHEAD = 80;

export const isTerminal = (e: RunEvent): boolean => e.event === 'done' || e.event === 'error';

/**
 * One streamed answer and every event it produced so far. Clients read it by position, so a
 * slow or reconnecting client never needs a queue of its own: it just reads on from its cursor.
 */
export class Run extends EventEmitter {
  readonly events: RunEvent[] = [];
  private size = 0;
  /** Cancels the agent call; set by whoever drives the run (absent for a run followed from Redis). */
  cancel: (code: string) => void = () => undefined;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly agentId: string,
    readonly sessionId: string | null,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get finished(): boolean {
    const last = this.events.at(-1);
    return last !== undefined && isTerminal(last);
  }

  get bytes(): number {
    return this.size;
  }

  get lastSeq(): number {
    return this.events.length - 1;
  }

  push(event: RunEventName, data: Record<string, unknown>): RunEvent | undefined {
    if (this.finished) return undefined;
    const entry: RunEvent = { seq: this.events.length, event, data: { run_id: this.id, ...data } };
    this.events.push(entry);
    // A chunk is measured by its text (serializing every chunk twice showed in profiles); the other
    // events are few and small.
    this.size += event === 'chunk' ? String(data.text).length + CHUNK_OVERHEAD : JSON.stringify(entry.data).length;
    this.emit('event', entry);
    return entry;
  }

  /**
   * Events after `afterSeq`, then live ones, until the terminal event or the signal. A reader
   * whose position is past a run that has ended still gets the terminal event, never a hang.
   */
  async *read(afterSeq: number, signal: AbortSignal): AsyncGenerator<RunEvent> {
    // One listener pair for the reader's whole life (not one per event waited for): this is the
    // hot path of every active stream.
    let wake: (() => void) | undefined;
    const notify = () => {
      const resolve = wake;
      wake = undefined;
      resolve?.();
    };
    this.on('event', notify);
    signal.addEventListener('abort', notify, { once: true });
    try {
      let next = afterSeq + 1;
      while (!signal.aborted) {
        while (next < this.events.length) {
          const event = this.events[next++];
          yield event;
          if (isTerminal(event)) return;
        }
        if (this.finished) {
          yield this.events[this.events.length - 1];
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.off('event', notify);
      signal.removeEventListener('abort', notify);
    }
  }
}
