import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/app-config';
import { DataDirLockedError } from './data-dir-lock';
import { ENTITIES, openDatabase } from './data-source';

/** Postgres (DATABASE_URL) or the embedded PGlite database; migrations run before the app serves. */
@Module({})
export class DatabaseModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            type: 'postgres',
            entities: ENTITIES,
            retryAttempts: 3,
            retryDelay: 1000,
            toRetry: (error) => !(error instanceof DataDirLockedError),
          }),
          dataSourceFactory: () => openDatabase(config.database),
        }),
      ],
    };
  }
}
