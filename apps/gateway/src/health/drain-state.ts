import { Injectable } from '@nestjs/common';

/** Set once the process has been asked to stop: readiness fails and streams are told to move on. */
@Injectable()
export class DrainState {
  private drainingSince: number | null = null;
  private readonly listeners = new Set<() => void>();

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  begin(): void {
    if (this.draining) return;
    this.drainingSince = Date.now();
    for (const listener of this.listeners) listener();
  }

  /** Called when draining begins (at once if it already has); returns an unsubscribe function. */
  onDrain(listener: () => void): () => void {
    if (this.draining) {
      listener();
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
