import type { ServerResponse } from 'node:http';

/**
 * Runs `listener` when the response's connection closes, or at once if it already has: a client
 * that left while the request was in guards or awaits gets no 'close' any more, and a listener
 * added then would never run (the work it should stop would go on to the end).
 */
export function onClientGone(response: ServerResponse, listener: () => void): void {
  if (response.closed) listener();
  else response.once('close', listener);
}
