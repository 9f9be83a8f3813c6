import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type AgentType = 'rag' | 'tool' | 'chat';
export type AgentRecordState = 'active' | 'retired';

/** The agents sessions can belong to; kept in step with the AGENTS configuration at start-up. */
@Entity({ name: 'agents' })
@Check('chk_agents_type', `"type" IN ('rag', 'tool', 'chat')`)
@Check('chk_agents_state', `"state" IN ('active', 'retired')`)
export class AgentRecord {
  @PrimaryColumn({ type: 'varchar', length: 63 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  type!: AgentType;

  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` })
  config!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  state!: AgentRecordState;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
