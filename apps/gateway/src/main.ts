import { AppConfig, ConfigError } from './config/app-config';
import { loadDotEnv } from './config/dotenv';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  loadDotEnv();
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  const hints = [`agent gateway listening on ${url}`];
  if (config.auth.key.kind === 'secret' && config.auth.key.isDevelopmentSecret) {
    hints.push('using the development JWT secret; get a token with: npm run token -- --sub alice');
  }
  process.stdout.write(`${hints.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
