import { InitialSchema1795676374648 } from './1795676374648-initial-schema';
import { SessionsUpdatedIndex1795850138806 } from './1795850138806-sessions-updated-index';

/** Every migration, in order. Add new ones with `npm run migration:generate -- <path/Name>`, then review them. */
export const MIGRATIONS = [InitialSchema1795676374648, SessionsUpdatedIndex1795850138806];
