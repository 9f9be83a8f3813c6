import type { ValueTransformer } from 'typeorm';

/** int8 columns arrive as strings (pg) or bigint (PGlite); our counters fit a JS number. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | bigint | number | null) => (value === null ? null : Number(value)),
};
