import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Passage } from './bm25';

/** The bundled documents (copied next to the compiled code by the build). */
export const DEFAULT_CORPUS_DIR = join(__dirname, '..', 'corpus');

/** Splits markdown files into passages (one per paragraph), each titled by its nearest heading. */
export function loadCorpus(dir: string): Passage[] {
  const passages: Passage[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()) {
    const doc = basename(file, '.md');
    let title = doc;
    let paragraph = 0;
    for (const block of readFileSync(join(dir, file), 'utf8').split(/\n\s*\n/)) {
      const text = block.trim();
      if (!text) continue;
      const heading = /^#+\s+(.*)$/m.exec(text);
      if (heading && text.split('\n').length === 1) {
        title = heading[1].trim();
        continue;
      }
      paragraph += 1;
      passages.push({
        id: `${doc}#${paragraph}`,
        title,
        content: text.replace(/\s+/g, ' '),
        uri: `corpus://${doc}#${paragraph}`,
      });
    }
  }
  return passages;
}
