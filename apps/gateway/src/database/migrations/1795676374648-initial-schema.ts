import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795676374648 implements MigrationInterface {
  name = 'InitialSchema1795676374648';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "agents" ("id" character varying(63) NOT NULL, "name" character varying(200) NOT NULL, "type" character varying(16) NOT NULL, "config" jsonb NOT NULL DEFAULT '{}'::jsonb, "state" character varying(16) NOT NULL DEFAULT 'active', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_agents_state" CHECK ("state" IN ('active', 'retired')), CONSTRAINT "chk_agents_type" CHECK ("type" IN ('rag', 'tool', 'chat')), CONSTRAINT "PK_9c653f28ae19c5884d5baf6a1d9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "sessions" ("id" uuid NOT NULL, "user_id" character varying(256) NOT NULL, "agent_id" character varying(63) NOT NULL, "state" character varying(16) NOT NULL DEFAULT 'active', "context" jsonb NOT NULL DEFAULT '{}'::jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "closed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_sessions_state" CHECK ("state" IN ('active', 'closed')), CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_sessions_user_created" ON "sessions" ("user_id", "created_at") `);
    await queryRunner.query(
      `CREATE TABLE "messages" ("id" uuid NOT NULL, "seq" BIGSERIAL NOT NULL, "session_id" uuid NOT NULL, "role" character varying(16) NOT NULL, "content" text NOT NULL, "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_c4378a3eb6c431f6eca96e4c0dd" UNIQUE ("seq"), CONSTRAINT "chk_messages_role" CHECK ("role" IN ('user', 'assistant', 'system')), CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_messages_session_seq" ON "messages" ("session_id", "seq") `);
    await queryRunner.query(
      `ALTER TABLE "sessions" ADD CONSTRAINT "fk_sessions_agent" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_session" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "fk_messages_session"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "fk_sessions_agent"`);
    await queryRunner.query(`DROP INDEX "public"."idx_messages_session_seq"`);
    await queryRunner.query(`DROP TABLE "messages"`);
    await queryRunner.query(`DROP INDEX "public"."idx_sessions_user_created"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
    await queryRunner.query(`DROP TABLE "agents"`);
  }
}
