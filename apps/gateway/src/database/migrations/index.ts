import { InitialSchema1795676374648 } from './1795676374648-initial-schema';

/** Every migration, in order. Add new ones with `npm run migration:generate -- <path/Name>`, then review them. */
export const MIGRATIONS = [InitialSchema1795676374648];
