import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

/** Bounds the calls in flight to one agent; past the bound, refuse at once instead of queueing. */
export class Bulkhead {
  private inFlight = 0;

  constructor(
    private readonly agentId: string,
    private readonly limit: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  /** Takes a place or throws AGENT_OVERLOADED; the returned function gives it back (once). */
  enter(): () => void {
    if (this.inFlight >= this.limit) {
      throw new AppException(ErrorCode.AGENT_OVERLOADED, `agent ${this.agentId} has too many calls in flight`, 1);
    }
    this.inFlight += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight -= 1;
    };
  }
}
