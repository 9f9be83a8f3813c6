/** Okapi BM25 over a fixed set of passages: enough retrieval to give real, ranked answers. */

const STOP_WORDS = new Set(
  'a an and are as at be by can do does for from how i if in into is it its of on or so that the their then there these this to was what when where which who why will with you your'.split(
    ' ',
  ),
);

export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((t) => !STOP_WORDS.has(t));
}

export interface Passage {
  id: string;
  title: string;
  content: string;
  uri: string;
}

export interface ScoredPassage extends Passage {
  score: number;
}

interface IndexedPassage {
  passage: Passage;
  termFrequencies: Map<string, number>;
  length: number;
}

export class Bm25Index {
  private readonly docs: IndexedPassage[];
  private readonly documentFrequency = new Map<string, number>();
  private readonly averageLength: number;

  constructor(
    passages: Passage[],
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {
    this.docs = passages.map((passage) => {
      const terms = tokenize(`${passage.title} ${passage.content}`);
      const termFrequencies = new Map<string, number>();
      for (const term of terms) termFrequencies.set(term, (termFrequencies.get(term) ?? 0) + 1);
      for (const term of termFrequencies.keys())
        this.documentFrequency.set(term, (this.documentFrequency.get(term) ?? 0) + 1);
      return { passage, termFrequencies, length: terms.length };
    });
    this.averageLength = this.docs.reduce((sum, d) => sum + d.length, 0) / Math.max(this.docs.length, 1);
  }

  get size(): number {
    return this.docs.length;
  }

  search(query: string, limit: number): ScoredPassage[] {
    const terms = [...new Set(tokenize(query))];
    if (terms.length === 0) return [];
    const n = this.docs.length;
    const scored: ScoredPassage[] = [];
    for (const doc of this.docs) {
      let score = 0;
      for (const term of terms) {
        const tf = doc.termFrequencies.get(term);
        if (!tf) continue;
        const df = this.documentFrequency.get(term) ?? 0;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score +=
          (idf * tf * (this.k1 + 1)) / (tf + this.k1 * (1 - this.b + (this.b * doc.length) / this.averageLength));
      }
      if (score > 0) scored.push({ ...doc.passage, score: Math.round(score * 1000) / 1000 });
    }
    return scored.sort((x, y) => y.score - x.score).slice(0, limit);
  }
}
