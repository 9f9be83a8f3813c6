/**
 * Postgres cannot store U+0000 in `text` or `jsonb`, nor an unpaired UTF-16 surrogate in `jsonb` (in
 * `text`, the driver's UTF-8 encoding turns it into U+FFFD), though a JavaScript string, and so a JSON
 * body or an agent's answer, can hold both: one such character fails the whole INSERT.
 */
export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL (U+0000) or unpaired surrogate characters';

export function isStorableText(text: string): boolean {
  return !text.includes('\0') && text.isWellFormed();
}

/** The text with each U+0000 and unpaired surrogate replaced by U+FFFD, as a UTF-8 decoder would. */
export function storableText(text: string): string {
  return isStorableText(text) ? text : text.toWellFormed().replaceAll('\0', '\uFFFD');
}

/** True when every string in a JSON value, object keys included, is storable. */
export function isStorableJson(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, item]) => isStorableText(key) && isStorableJson(item));
  }
  return true;
}

/** A JSON value with every string made storable; the value itself when it already is. */
export function storableJson<T>(value: T): T {
  return isStorableJson(value) ? value : (copyStorable(value) as T);
}

function copyStorable(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(copyStorable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableText(key), copyStorable(item)]));
  }
  return value;
}
