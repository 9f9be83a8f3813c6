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
   * Delivers the events after `afterSeq`, then live ones as they are pushed, to `deliver`, until
   * the terminal event or the cursor's `stop()`; `ended` settles then (rejecting if `deliver` threw).
   * A reader whose position is past a run that has ended still gets the terminal event, never a hang.
   * `deliver` returning false means the client's buffer is full: nothing more is delivered until
   * the returned cursor's `resume()`, and the run keeps the events meanwhile.
   *
   * Callbacks, not an async iterator: this is the hot path of every active stream, and a generator
   * cost a promise and two microtask hops per event per reader, and its frames per idle stream.
   */
  follow(afterSeq: number, deliver: (event: RunEvent) => boolean): RunCursor {
    return new RunCursor(this, afterSeq + 1, deliver);
  }
}

/** One reader's position in a run; see Run.follow. */
export class RunCursor {
  /** Settles when the reader is done: terminal event delivered, stopped, or `deliver` threw. */
  readonly ended: Promise<void>;
  private paused = false;
  private pumping = false;
  private over = false;
  private finish!: (error?: Error) => void;

  constructor(
    private readonly run: Run,
    private next: number,
    private readonly deliver: (event: RunEvent) => boolean,
  ) {
    this.ended = new Promise<void>((resolve, reject) => {
      this.finish = (error) => {
        if (this.over) return;
        this.over = true;
        run.off('event', this.pump);
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    run.on('event', this.pump);
    this.pump();
  }

  /** The seq of the last event delivered (where a reconnecting client resumes after). */
  get position(): number {
    return this.next - 1;
  }

  /** Delivers again after `deliver` returned false. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Ends the reader (its client left); the run goes on. */
  stop(): void {
    this.finish();
  }

  private readonly pump = () => {
    // An event pushed from inside `deliver` is picked up by the loop already running.
    if (this.pumping || this.paused || this.over) return;
    this.pumping = true;
    try {
      const events = this.run.events;
      if (this.next >= events.length && this.run.finished) this.next = events.length - 1;
      while (this.next < events.length && !this.paused && !this.over) {
        const event = events[this.next++];
        if (!this.deliver(event)) this.paused = true;
        if (isTerminal(event)) this.finish();
      }
    } catch (error) {
      this.finish(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.pumping = false;
    }
  };
}
