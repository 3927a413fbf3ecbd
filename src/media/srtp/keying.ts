/**
 * DTLS-SRTP keying (RFC 5764 §4.2). The exporter ("EXTRACTOR-dtls_srtp") output is laid out as
 *   client_write_key | server_write_key | client_write_salt | server_write_salt
 * The DTLS client protects with the client keys and unprotects with the server keys; the server
 * the other way round.
 */
import { SrtpContext, type SrtpContextOptions } from './context.js';
import { srtpKeyingMaterialLength, type SrtpProfile } from './profiles.js';

export type DtlsRole = 'client' | 'server';

export interface SrtpMasterKeys {
  /** Our outbound (protect) master key and salt. */
  localKey: Buffer;
  localSalt: Buffer;
  /** The peer's outbound = our inbound (unprotect) master key and salt. */
  remoteKey: Buffer;
  remoteSalt: Buffer;
}

/** Split 60-byte (AES-CM) or 56-byte (GCM) exporter output by DTLS role. Copies the keys. */
export function splitDtlsSrtpKeyingMaterial(material: Uint8Array, profile: SrtpProfile, role: DtlsRole): SrtpMasterKeys {
  const need = srtpKeyingMaterialLength(profile);
  if (material.length < need) throw new RangeError(`${profile.name} needs ${need} bytes of keying material, got ${material.length}`);
  const m = Buffer.from(material.buffer, material.byteOffset, material.length);
  const k = profile.keyLength;
  const s = profile.saltLength;
  const clientKey = Buffer.from(m.subarray(0, k));
  const serverKey = Buffer.from(m.subarray(k, 2 * k));
  const clientSalt = Buffer.from(m.subarray(2 * k, 2 * k + s));
  const serverSalt = Buffer.from(m.subarray(2 * k + s, 2 * k + 2 * s));
  return role === 'client'
    ? { localKey: clientKey, localSalt: clientSalt, remoteKey: serverKey, remoteSalt: serverSalt }
    : { localKey: serverKey, localSalt: serverSalt, remoteKey: clientKey, remoteSalt: clientSalt };
}

export interface SrtpSessionPair {
  /** protectRtp / protectRtcp for what we send. */
  outbound: SrtpContext;
  /** unprotectRtp / unprotectRtcp for what we receive. */
  inbound: SrtpContext;
}

/** Both contexts of a DTLS-SRTP association. */
export function createSrtpSessionsFromDtls(
  material: Uint8Array,
  profile: SrtpProfile,
  role: DtlsRole,
  options: SrtpContextOptions = {},
): SrtpSessionPair {
  const keys = splitDtlsSrtpKeyingMaterial(material, profile, role);
  return {
    outbound: new SrtpContext(profile, keys.localKey, keys.localSalt, { ...options, disableReplayCheck: true }),
    inbound: new SrtpContext(profile, keys.remoteKey, keys.remoteSalt, options),
  };
}
