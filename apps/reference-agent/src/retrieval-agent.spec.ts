import { Bm25Index, tokenize } from './bm25';
import { DEFAULT_CORPUS_DIR, loadCorpus } from './corpus';
import { RetrievalAgent, splitIntoTokens } from './retrieval-agent';
import { behaviourDefaultsFromEnv, failureFor, resolveBehaviour } from './behaviour';

describe('Bm25Index', () => {
  const index = new Bm25Index([
    { id: 'a', title: 'Cats', content: 'cats purr and sleep all day', uri: 'x://a' },
    { id: 'b', title: 'Dogs', content: 'dogs bark at the mail carrier', uri: 'x://b' },
    { id: 'c', title: 'Pets', content: 'cats and dogs are pets; cats more so', uri: 'x://c' },
  ]);

  it('ranks the passage that best matches first, with a positive score', () => {
    const results = index.search('why do dogs bark', 3);
    expect(results[0].id).toBe('b');
    expect(results[0].score).toBeGreaterThan(0);
  });

  it('returns nothing for words that appear nowhere', () => {
    expect(index.search('quantum chromodynamics', 3)).toEqual([]);
  });

  it('ignores case, punctuation and stop words', () => {
    expect(tokenize('What IS the Deadline?')).toEqual(['deadline']);
  });
});

describe('RetrievalAgent over the bundled corpus', () => {
  const agent = new RetrievalAgent(new Bm25Index(loadCorpus(DEFAULT_CORPUS_DIR)));

  it('answers from the best passages and returns them as sources with usage', () => {
    const result = agent.answer('How are JWT tokens verified with JWKS?');
    expect(result.sources.length).toBeGreaterThan(0);
    expect(result.sources[0]).toMatchObject({ title: 'Authentication', uri: expect.stringMatching(/^corpus:\/\//) });
    expect(result.answer).toContain(result.sources[0].content);
    expect(result.usage.total_tokens).toBe(result.usage.prompt_tokens + result.usage.completion_tokens);
    expect(result.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('says so when nothing matches', () => {
    expect(agent.answer('zebra quasar xylophone')).toMatchObject({
      sources: [],
      answer: expect.stringMatching(/could not find/),
    });
  });

  it('uses the previous user turn for a short follow-up', () => {
    const followUp = agent.answer('and then?', [{ role: 'user', content: 'what happens when the deadline passes' }]);
    expect(followUp.sources.length).toBeGreaterThan(0);
  });
});

describe('splitIntoTokens', () => {
  it('splits an answer into pieces that join back exactly', () => {
    const answer = 'Every call has  a deadline.\n\nThen 504.';
    expect(splitIntoTokens(answer).join('')).toBe(answer);
  });
});

describe('behaviour switches', () => {
  const defaults = behaviourDefaultsFromEnv({ AGENT_TOKENS_PER_SECOND: '20', AGENT_ALLOW_OVERRIDES: 'true' });

  it('takes defaults from the environment and lets a request override them', () => {
    expect(resolveBehaviour(defaults, {})).toMatchObject({ tokensPerSecond: 20, latencyMs: 0, repeat: 1 });
    expect(resolveBehaviour(defaults, { ref_repeat: '3.7' })).toMatchObject({ repeat: 3 });
    expect(resolveBehaviour(defaults, { ref_latency_ms: '250', ref_fail: 'unavailable' })).toMatchObject({
      latencyMs: 250,
      fail: 'UNAVAILABLE',
    });
  });

  it('ignores overrides unless they are switched on', () => {
    for (const locked of [behaviourDefaultsFromEnv({}), behaviourDefaultsFromEnv({ AGENT_ALLOW_OVERRIDES: 'false' })]) {
      expect(failureFor(resolveBehaviour(locked, { ref_fail: 'internal' }))).toBeUndefined();
      expect(resolveBehaviour(locked, { ref_latency_ms: '250' })).toMatchObject({ latencyMs: 0 });
    }
  });

  it('fails with the requested status, and not for an unknown status name', () => {
    expect(failureFor(resolveBehaviour(defaults, { ref_fail: 'internal' }))).toBe('INTERNAL');
    expect(failureFor(resolveBehaviour(defaults, { ref_fail: 'nonsense' }))).toBeUndefined();
  });
});
