import { createHash } from 'node:crypto';

/** Long-term credential key (RFC 5389 15.4): MD5(username ":" realm ":" password). SASLprep is not applied. */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}
