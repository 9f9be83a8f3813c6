import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Session retention finds sessions unused since a date: by this index, not a scan of them all. Built
 * CONCURRENTLY (outside a transaction), so that replicas still on the previous version keep writing
 * sessions while a large table is indexed.
 */
export class SessionsUpdatedIndex1795850138806 implements MigrationInterface {
  name = 'SessionsUpdatedIndex1795850138806';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX CONCURRENTLY "idx_sessions_updated" ON "sessions" ("updated_at") `);
  }

  /** A plain DROP: TypeORM reverts in a transaction whatever the migration says, and dropping is quick. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_sessions_updated"`);
  }
}
