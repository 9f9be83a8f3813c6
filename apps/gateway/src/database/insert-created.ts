import type { ObjectLiteral, Repository } from 'typeorm';

/**
 * Inserts an entity made with `repository.create()` in one INSERT, and returns it with its generated
 * columns read back. `save` would first SELECT the entity's id, then INSERT in a transaction of its own:
 * four round trips where one does.
 */
export async function insertCreated<T extends ObjectLiteral>(repository: Repository<T>, entity: T): Promise<T> {
  await repository.insert(entity);
  return entity;
}
