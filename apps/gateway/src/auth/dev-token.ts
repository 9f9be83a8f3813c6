import { SignJWT } from 'jose';
import type { AppConfig } from '../config/app-config';

export interface DevTokenOptions {
  sub: string;
  ttlSeconds: number;
}

/** Signs a token with the configured HMAC secret; for development and tests, not an identity provider. */
export async function signDevToken(config: AppConfig, { sub, ttlSeconds }: DevTokenOptions): Promise<string> {
  const key = config.auth.key;
  if (key.kind !== 'secret') {
    throw new Error('the gateway verifies tokens with a public key: get tokens from your identity provider');
  }
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (config.auth.issuer) jwt = jwt.setIssuer(config.auth.issuer);
  if (config.auth.audience) jwt = jwt.setAudience(config.auth.audience);
  return jwt.sign(new TextEncoder().encode(key.secret));
}
