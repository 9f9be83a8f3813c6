import { StreamNotStartedError } from '../agent/agent-stream';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { StacklessError } from './without-stack-trace';

/** The frames of an error's stack ("    at ..." lines); none when no stack was captured. */
const framesOf = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));

/**
 * Errors that are answers or wrappers capture no stack: when thousands of streams are cancelled at once
 * (their resume windows ending together after a mass disconnect), capturing a stack per stream was the
 * larger part of the stall every other request saw. (Cancels carry no error at all: CancelSignal.)
 */
describe('errors without a stack trace', () => {
  it('capture none, and leave the stack trace limit as it was', () => {
    const limit = Error.stackTraceLimit;
    for (const error of [
      new StacklessError('gone'),
      new AppException(ErrorCode.REQUEST_CANCELLED, 'stream cancelled'),
      new StreamNotStartedError(new Error('UNAVAILABLE')),
    ]) {
      expect(framesOf(error)).toEqual([]);
      expect(error).toBeInstanceOf(Error);
    }
    expect(Error.stackTraceLimit).toBe(limit);
    // An ordinary error still gets its stack.
    expect(framesOf(new Error('bug')).length).toBeGreaterThan(0);
  });

  it('keep what they wrap: a stream that did not start carries its cause', () => {
    const cause = new Error('UNAVAILABLE');
    expect(new StreamNotStartedError(cause)).toMatchObject({ cause, message: 'stream failed before its first chunk' });
  });
});
