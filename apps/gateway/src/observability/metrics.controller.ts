import { Controller, Get, Header } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { NoRateLimit } from '../rate-limit/rate-limit.guard';
import { MetricsService } from './metrics.service';

/** Prometheus scrape endpoint. Public like the probes: keep it off the public internet at the edge. */
@ApiTags('observability')
@Public()
@NoRateLimit()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiProduces('text/plain')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
