/**
 * SRTP key derivation (RFC 3711 §4.3) with the AES-CM PRF (§4.3.3).
 *
 *   key_id = label || r   (r = index DIV key_derivation_rate, 48 bits; 0 when the rate is 0)
 *   x      = key_id XOR master_salt   (key_id right-aligned to the 112-bit salt)
 *   out    = AES-CM(master_key, IV = x * 2^16), truncated to the wanted length
 *
 * AEAD_AES_128_GCM keeps this KDF with a 96-bit master salt, which is zero-extended on the right
 * to 112 bits (the libsrtp/Chrome convention, RFC 7714 §11).
 * Not on the packet path: runs once per key.
 */
import { createCipheriv } from 'node:crypto';

export const LABEL_RTP_ENCRYPTION = 0x00;
export const LABEL_RTP_AUTH = 0x01;
export const LABEL_RTP_SALT = 0x02;
export const LABEL_RTCP_ENCRYPTION = 0x03;
export const LABEL_RTCP_AUTH = 0x04;
export const LABEL_RTCP_SALT = 0x05;

/** Raw AES counter-mode keystream: AES_k(iv), AES_k(iv+1), ... (big-endian 128-bit counter). */
export function aesCmKeystream(key: Uint8Array, iv: Uint8Array, length: number): Buffer {
  const algo = key.length === 32 ? 'aes-256-ctr' : key.length === 24 ? 'aes-192-ctr' : 'aes-128-ctr';
  const c = createCipheriv(algo, key, iv);
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}

/**
 * Derive one session key. `index` is the SRTP packet index (or SRTCP index) and only matters
 * when `kdr` (key derivation rate, a power of 2 or 0) is non-zero.
 */
export function deriveSrtpKey(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  label: number,
  length: number,
  index = 0,
  kdr = 0,
): Buffer {
  if (masterSalt.length > 14) throw new RangeError('master salt longer than 112 bits');
  const iv = Buffer.alloc(16);
  Buffer.from(masterSalt.buffer, masterSalt.byteOffset, masterSalt.length).copy(iv, 0);
  iv[7] ^= label & 0xff;
  if (kdr > 0) {
    const r = Math.floor(index / kdr);
    // r is 48 bits, occupying salt bytes 8..13
    const hi = Math.floor(r / 0x100000000) & 0xffff;
    const lo = r >>> 0;
    iv[8] ^= hi >>> 8;
    iv[9] ^= hi & 0xff;
    iv[10] ^= lo >>> 24;
    iv[11] ^= (lo >>> 16) & 0xff;
    iv[12] ^= (lo >>> 8) & 0xff;
    iv[13] ^= lo & 0xff;
  }
  return aesCmKeystream(masterKey, iv, length);
}

export interface SrtpSessionKeys {
  rtpKey: Buffer;
  rtpSalt: Buffer;
  /** Empty for AEAD profiles. */
  rtpAuthKey: Buffer;
  rtcpKey: Buffer;
  rtcpSalt: Buffer;
  rtcpAuthKey: Buffer;
}

export function deriveSrtpSessionKeys(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  keyLength: number,
  saltLength: number,
  authKeyLength: number,
): SrtpSessionKeys {
  const empty = Buffer.alloc(0);
  return {
    rtpKey: deriveSrtpKey(masterKey, masterSalt, LABEL_RTP_ENCRYPTION, keyLength),
    rtpSalt: deriveSrtpKey(masterKey, masterSalt, LABEL_RTP_SALT, saltLength),
    rtpAuthKey: authKeyLength > 0 ? deriveSrtpKey(masterKey, masterSalt, LABEL_RTP_AUTH, authKeyLength) : empty,
    rtcpKey: deriveSrtpKey(masterKey, masterSalt, LABEL_RTCP_ENCRYPTION, keyLength),
    rtcpSalt: deriveSrtpKey(masterKey, masterSalt, LABEL_RTCP_SALT, saltLength),
    rtcpAuthKey: authKeyLength > 0 ? deriveSrtpKey(masterKey, masterSalt, LABEL_RTCP_AUTH, authKeyLength) : empty,
  };
}
