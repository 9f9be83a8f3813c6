import { isStorableJson, isStorableText, storableJson, storableText } from './storable-text';

describe('text Postgres can store', () => {
  it('tells NUL and unpaired surrogates from any other text', () => {
    expect(isStorableText('plain, accented é, emoji 😀, tab\t')).toBe(true);
    for (const text of ['a\u0000b', 'high \ud800 alone', 'low \udc00 alone', 'reversed \udc00\ud800']) {
      expect(isStorableText(text)).toBe(false);
    }
  });

  it('replaces each of them with U+FFFD and keeps the rest', () => {
    expect(storableText('a\u0000b\ud800c😀')).toBe('a\ufffdb\ufffdc😀');
    expect(storableText('fine')).toBe('fine');
  });

  it('checks and repairs every string of a JSON value, object keys included', () => {
    const clean = { a: ['x', 1, null, { b: true }] };
    expect(isStorableJson(clean)).toBe(true);
    expect(storableJson(clean)).toBe(clean);
    const dirty = { 'k\u0000': [{ c: 'v\udfff' }], n: 2, z: null };
    expect(isStorableJson(dirty)).toBe(false);
    expect(isStorableJson({ a: [{ b: 'x\u0000' }] })).toBe(false);
    expect(storableJson(dirty)).toEqual({ 'k\ufffd': [{ c: 'v\ufffd' }], n: 2, z: null });
  });
});
