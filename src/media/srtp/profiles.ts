/**
 * SRTP protection profiles (RFC 3711, RFC 5764 §4.1.2, RFC 7714 §14.2).
 * A profile fixes the cipher, key/salt sizes and the authentication tag sizes.
 */

export type SrtpProfileName = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM';

export interface SrtpProfile {
  readonly name: SrtpProfileName;
  /** DTLS-SRTP protection profile id (use_srtp extension). */
  readonly dtlsId: number;
  /** Master and session encryption key length in bytes. */
  readonly keyLength: number;
  /** Master and session salt length in bytes (14 for AES-CM, 12 for GCM). */
  readonly saltLength: number;
  /** HMAC-SHA1 session key length (0 for AEAD). */
  readonly authKeyLength: number;
  /** Authentication tag appended to SRTP packets. */
  readonly rtpTagLength: number;
  /** Authentication tag appended to SRTCP packets. */
  readonly rtcpTagLength: number;
  readonly aead: boolean;
}

export const AES_CM_128_HMAC_SHA1_80: SrtpProfile = Object.freeze({
  name: 'AES_CM_128_HMAC_SHA1_80',
  dtlsId: 0x0001,
  keyLength: 16,
  saltLength: 14,
  authKeyLength: 20,
  rtpTagLength: 10,
  rtcpTagLength: 10,
  aead: false,
});

/** RFC 5764 §4.1.2: the _32 profile keeps an 80-bit tag for SRTCP. */
export const AES_CM_128_HMAC_SHA1_32: SrtpProfile = Object.freeze({
  name: 'AES_CM_128_HMAC_SHA1_32',
  dtlsId: 0x0002,
  keyLength: 16,
  saltLength: 14,
  authKeyLength: 20,
  rtpTagLength: 4,
  rtcpTagLength: 10,
  aead: false,
});

export const AEAD_AES_128_GCM: SrtpProfile = Object.freeze({
  name: 'AEAD_AES_128_GCM',
  dtlsId: 0x0007,
  keyLength: 16,
  saltLength: 12,
  authKeyLength: 0,
  rtpTagLength: 16,
  rtcpTagLength: 16,
  aead: true,
});

export const SRTP_PROFILES: readonly SrtpProfile[] = [AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM];

export function srtpProfileByName(name: string): SrtpProfile | undefined {
  return SRTP_PROFILES.find((p) => p.name === name);
}

export function srtpProfileByDtlsId(id: number): SrtpProfile | undefined {
  return SRTP_PROFILES.find((p) => p.dtlsId === id);
}

/** Length of the DTLS exporter output needed for a profile: 2 * (key + salt) (RFC 5764 §4.2). */
export function srtpKeyingMaterialLength(profile: SrtpProfile): number {
  return 2 * (profile.keyLength + profile.saltLength);
}
