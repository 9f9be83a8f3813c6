import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { AgentRecord } from '../agent/agent-record.entity';

export type SessionState = 'active' | 'closed';

@Entity({ name: 'sessions' })
@Index('idx_sessions_user_created', ['userId', 'createdAt'])
@Index('idx_sessions_updated', ['updatedAt'])
@Check('chk_sessions_state', `"state" IN ('active', 'closed')`)
export class SessionEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** The JWT subject that created the session: the only caller who may see it. */
  @Column({ name: 'user_id', type: 'varchar', length: 256 })
  userId!: string;

  @Column({ name: 'agent_id', type: 'varchar', length: 63 })
  agentId!: string;

  @ManyToOne(() => AgentRecord, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'agent_id', foreignKeyConstraintName: 'fk_sessions_agent' })
  agent?: AgentRecord;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  state!: SessionState;

  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` })
  context!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** When a query last went into the session, or it was closed: what retention counts from. */
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;
}
