/**
 * SRTP-encrypted `rtp` mountpoint sources (`srtpsuite` 32 or 80, `srtpcrypto` = base64 of the
 * 30-byte master key + salt, the SDES way). Each stream gets its own receive context so that two
 * streams of one mountpoint never share replay/rollover state.
 */
import { AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80, SrtpContext, type SrtpProfile } from '../../media/srtp/index.js';
import { StError, StErrorCode } from './errors.js';

const MASTER_KEY = 16;
const MASTER_SALT = 14;

export interface SrtpSourceKeys {
  profile: SrtpProfile;
  key: Buffer;
  salt: Buffer;
}

/**
 * Both settings are needed for SRTP (a key alone is ignored, as Janus does); a suite other than
 * 32/80, even alone, or a crypto string that is not base64 of at least 30 bytes refuses the mountpoint.
 */
export function srtpSourceKeys(suite: number | null, crypto: string | null): SrtpSourceKeys | null {
  if (suite !== null && suite !== 32 && suite !== 80) throw new StError(StErrorCode.CANT_CREATE, "Can't add 'rtp' stream, invalid SRTP suite...");
  if (suite === null || crypto === null) return null;
  // Buffer's decoder skips junk silently: require a strict base64 alphabet so typos are caught
  const clean = crypto.trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(clean) ? Buffer.from(clean, 'base64') : Buffer.alloc(0);
  if (decoded.length < MASTER_KEY + MASTER_SALT) throw new StError(StErrorCode.CANT_CREATE, "Error creating 'rtp' stream");
  return {
    profile: suite === 32 ? AES_CM_128_HMAC_SHA1_32 : AES_CM_128_HMAC_SHA1_80,
    key: decoded.subarray(0, MASTER_KEY),
    salt: decoded.subarray(MASTER_KEY, MASTER_KEY + MASTER_SALT),
  };
}

export function srtpReceiveContext(keys: SrtpSourceKeys): SrtpContext {
  return new SrtpContext(keys.profile, keys.key, keys.salt);
}
