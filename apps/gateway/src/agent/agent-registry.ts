import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { AgentDefinition } from '../config/env.schema';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { AgentClient } from './agent-client';
import type { AgentInfoDto } from './agent.dto';

/** The configured agents as clients may see them: no target addresses. */
@Injectable()
export class AgentRegistry {
  private readonly agents: Map<string, AgentDefinition>;

  constructor(
    config: AppConfig,
    private readonly client: AgentClient,
  ) {
    this.agents = new Map(config.agents.map((a) => [a.id, a]));
  }

  list(): AgentInfoDto[] {
    return [...this.agents.values()].map((a) => this.toDto(a));
  }

  get(id: string): AgentInfoDto {
    const agent = this.agents.get(id);
    if (!agent) throw new AppException(ErrorCode.AGENT_NOT_FOUND, `unknown agent: ${id}`);
    return this.toDto(agent);
  }

  private toDto(agent: AgentDefinition): AgentInfoDto {
    return {
      id: agent.id,
      name: agent.name ?? agent.id,
      type: agent.type,
      description: agent.description ?? null,
      state: this.client.state(agent.id),
      config: { deadline_ms: agent.deadline_ms, targets: agent.targets.length },
    };
  }
}
