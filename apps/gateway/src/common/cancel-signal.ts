/**
 * A one-shot cancel (of an agent call, or of following a run from Redis): what an AbortController
 * and its AbortSignal do here, for a fraction of their cost. One is made per query and held by every
 * open stream; on Node 20 an AbortSignal takes about 5 µs to make and 1 KB with a listener (it is an
 * EventTarget, with two Maps), this an object and, once listened to, an array. It carries no error,
 * so cancelling thousands at once captures no stack.
 */
export class CancelSignal {
  private listeners: (() => void)[] | undefined;
  private done = false;

  get cancelled(): boolean {
    return this.done;
  }

  /**
   * Runs `listener` once, when cancelled; at once if that has already happened (unlike an
   * AbortSignal, whose listener added after the abort never runs).
   */
  onCancel(listener: () => void): void {
    if (this.done) return listener();
    (this.listeners ??= []).push(listener);
  }

  offCancel(listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }

  /** Cancels, once: runs the listeners in the order they were added. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    listeners?.forEach((listener) => listener());
  }
}
