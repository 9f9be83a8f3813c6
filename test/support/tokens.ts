import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
}

export function rsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ecKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface Claims {
  sub?: string;
  exp?: number | null;
  iss?: string;
  aud?: string;
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

export async function sign(
  alg: string,
  key: KeyObject | Uint8Array,
  claims: Claims = {},
  header: Record<string, string> = {},
): Promise<string> {
  let jwt = new SignJWT({}).setProtectedHeader({ alg, ...header }).setIssuedAt();
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  else jwt = jwt.setSubject('alice');
  if (claims.exp !== null) jwt = jwt.setExpirationTime(claims.exp ?? inAnHour());
  if (claims.iss) jwt = jwt.setIssuer(claims.iss);
  if (claims.aud) jwt = jwt.setAudience(claims.aud);
  return jwt.sign(key);
}

export const secretKey = (secret: string) => new TextEncoder().encode(secret);

/** An unsigned token (alg: none), as an attacker would send it. */
export function unsignedToken(sub = 'alice'): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, exp: inAnHour() })}.`;
}

export async function jwksOf(publicKey: KeyObject, kid: string): Promise<{ keys: object[] }> {
  return { keys: [{ ...(await exportJWK(publicKey)), kid, use: 'sig' }] };
}
