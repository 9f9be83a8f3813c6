import { AppConfig } from '../config/app-config';
import { loadDotEnv } from '../config/dotenv';
import { createDataSource } from './data-source';

/** For the TypeORM CLI (npm run migration:*): the same definition the app uses. */
loadDotEnv();
export const dataSource = createDataSource(AppConfig.fromEnv(process.env).database);
