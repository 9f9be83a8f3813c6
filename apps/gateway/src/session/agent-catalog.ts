import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Not, In, type Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AgentRecord } from '../agent/agent-record.entity';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

/**
 * Keeps the agents table in step with AGENTS so sessions can reference their agent.
 * Agents removed from the configuration are retired, not deleted: their sessions keep their history.
 */
@Injectable()
export class AgentCatalog implements OnApplicationBootstrap {
  private readonly configured: Set<string>;

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(AgentRecord) private readonly agents: Repository<AgentRecord>,
  ) {
    this.configured = new Set(config.agents.map((a) => a.id));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.agents.upsert(
      this.config.agents.map((a) => ({
        id: a.id,
        name: a.name ?? a.id,
        type: a.type,
        config: { deadline_ms: a.deadline_ms, targets: a.targets.length },
        state: 'active' as const,
      })),
      ['id'],
    );
    await this.agents.update({ id: Not(In([...this.configured])), state: 'active' }, { state: 'retired' });
  }

  assertConfigured(agentId: string): void {
    if (!this.configured.has(agentId)) throw new AppException(ErrorCode.AGENT_NOT_FOUND, `unknown agent: ${agentId}`);
  }
}
