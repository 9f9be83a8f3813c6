import { ErrorCode } from '../errors/error-code';
import { Bulkhead } from './bulkhead';

describe('Bulkhead', () => {
  it('refuses at once past its bound and frees places as calls leave', () => {
    const bulkhead = new Bulkhead('rag-1', 2);
    const first = bulkhead.enter();
    bulkhead.enter();
    expect(() => bulkhead.enter()).toThrow(expect.objectContaining({ code: ErrorCode.AGENT_OVERLOADED, status: 503 }));
    first();
    first(); // leaving twice gives back one place only
    expect(bulkhead.active).toBe(1);
    expect(() => bulkhead.enter()).not.toThrow();
  });
});
