import { Global, Module } from '@nestjs/common';
import { DocsController, OpenApiDocument } from './docs.controller';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Global()
@Module({
  controllers: [MetricsController, DocsController],
  providers: [MetricsService, OpenApiDocument],
  exports: [MetricsService, OpenApiDocument],
})
export class MetricsModule {}
