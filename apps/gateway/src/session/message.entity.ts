import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { bigintAsNumber } from '../database/bigint.transformer';
import { SessionEntity } from './session.entity';

export type MessageRole = 'user' | 'assistant' | 'system';

@Entity({ name: 'messages' })
@Index('idx_messages_session_seq', ['sessionId', 'seq'])
@Check('chk_messages_role', `"role" IN ('user', 'assistant', 'system')`)
export class MessageEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** Insertion order across all sessions: orders a session's messages and is its page cursor. */
  @Column({ type: 'bigint', transformer: bigintAsNumber, unique: true })
  @Generated('increment')
  seq!: number;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId!: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id', foreignKeyConstraintName: 'fk_messages_session' })
  session?: SessionEntity;

  @Column({ type: 'varchar', length: 16 })
  role!: MessageRole;

  @Column({ type: 'text' })
  content!: string;

  /** Sources, usage, latency, request id; `incomplete` and `reason` when the answer did not finish. */
  @Column({ type: 'jsonb', default: () => `'{}'::jsonb` })
  metadata!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
