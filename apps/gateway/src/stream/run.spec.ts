import { Run, type RunEvent } from './run';

const seqs = (events: RunEvent[]) => events.map((e) => `${e.seq}:${e.event}`);

describe('Run.follow', () => {
  let run: Run;
  let delivered: RunEvent[];
  const collect = (event: RunEvent) => (delivered.push(event), true);
  beforeEach(() => {
    run = new Run('r1', 'u1', 'a1', null);
    run.push('start', {});
    delivered = [];
  });

  it('delivers what is there from the position, then live events in order, and ends at the terminal event', async () => {
    run.push('chunk', { text: 'a' });
    const cursor = run.follow(0, collect);
    expect(seqs(delivered)).toEqual(['1:chunk']);
    run.push('chunk', { text: 'b' });
    run.push('done', { answer: 'ab' });
    await cursor.ended;
    expect(seqs(delivered)).toEqual(['1:chunk', '2:chunk', '3:done']);
    expect(run.listenerCount('event')).toBe(0);
  });

  it('gives a reader past the end of a finished run its terminal event instead of a hang', async () => {
    run.push('error', { code: 'AGENT_TIMEOUT' });
    await run.follow(7, collect).ended;
    expect(seqs(delivered)).toEqual(['1:error']);
  });

  it('holds events while the client is full and delivers them, none lost, on resume', async () => {
    let room = false;
    const cursor = run.follow(-1, (e) => (delivered.push(e), room));
    expect(seqs(delivered)).toEqual(['0:start']);
    run.push('chunk', { text: 'a' });
    run.push('chunk', { text: 'b' });
    expect(seqs(delivered)).toEqual(['0:start']);
    room = true;
    cursor.resume();
    run.push('done', {});
    await cursor.ended;
    expect(seqs(delivered)).toEqual(['0:start', '1:chunk', '2:chunk', '3:done']);
  });

  it('stops when its client leaves, remembers where it was, and lets go of the run', async () => {
    run.push('chunk', { text: 'a' });
    const cursor = run.follow(-1, collect);
    expect(cursor.position).toBe(1);
    cursor.stop();
    await cursor.ended;
    run.push('chunk', { text: 'late' });
    expect(seqs(delivered)).toEqual(['0:start', '1:chunk']);
    expect(run.listenerCount('event')).toBe(0);
  });

  it('ends with the error when delivering throws (a closed socket), without breaking the run', async () => {
    const cursor = run.follow(-1, () => {
      throw new Error('socket closed');
    });
    await expect(cursor.ended).rejects.toThrow('socket closed');
    expect(run.push('chunk', { text: 'still fine' })?.seq).toBe(1);
    expect(run.listenerCount('event')).toBe(0);
  });
});
