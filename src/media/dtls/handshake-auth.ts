/**
 * Peer authentication checks we perform ourselves on top of the DTLS engine (werift-dtls 0.5.8 does not
 * verify the ServerKeyExchange signature, the CertificateVerify signature or the peer's Finished).
 * Without these, a fingerprint match would prove nothing: the peer's certificate travels in clear.
 */
import { X509Certificate, createHash, createHmac, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** TLS 1.2 PRF with SHA-256 (RFC 5246 §5). */
export function prfSha256(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'ascii'), seed]);
  const out: Buffer[] = [];
  let total = 0;
  let a: Buffer = labelSeed;
  while (total < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(labelSeed).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function finishedVerifyData(masterSecret: Buffer, fromClient: boolean, transcript: readonly Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const m of transcript) h.update(m);
  return prfSha256(masterSecret, fromClient ? 'client finished' : 'server finished', h.digest(), 12);
}

/** Parses a Certificate handshake body; returns the DER certificates (possibly empty). */
export function parseCertificateList(body: Buffer): Buffer[] | undefined {
  if (body.length < 3) return undefined;
  const total = body.readUIntBE(0, 3);
  if (total + 3 !== body.length) return undefined;
  const certs: Buffer[] = [];
  let off = 3;
  while (off < body.length) {
    if (body.length - off < 3) return undefined;
    const len = body.readUIntBE(off, 3);
    off += 3;
    if (off + len > body.length || len === 0) return undefined;
    certs.push(body.subarray(off, off + len));
    off += len;
  }
  return certs;
}

export function publicKeyOf(der: Buffer): KeyObject | undefined {
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    return undefined;
  }
}

/** Verifies a digitally-signed struct (SignatureAndHashAlgorithm + opaque<2>) over `data`. */
function verifySigned(key: KeyObject, signedStruct: Buffer, data: Buffer): boolean {
  if (signedStruct.length < 4) return false;
  const hashAlg = signedStruct[0]!;
  const sigAlg = signedStruct[1]!;
  const len = signedStruct.readUInt16BE(2);
  if (4 + len !== signedStruct.length) return false;
  const sig = signedStruct.subarray(4);
  const hash = hashAlg === 4 ? 'sha256' : hashAlg === 5 ? 'sha384' : hashAlg === 6 ? 'sha512' : undefined;
  if (!hash) return false;
  const kt = key.asymmetricKeyType;
  if (!((sigAlg === 3 && kt === 'ec') || (sigAlg === 1 && kt === 'rsa'))) return false;
  try {
    return cryptoVerify(hash, data, key, sig);
  } catch {
    return false;
  }
}

/** ServerKeyExchange (ECDHE, named curve) signature check: sig over client_random + server_random + params. */
export function verifyServerKeyExchange(key: KeyObject, body: Buffer, clientRandom: Buffer, serverRandom: Buffer): boolean {
  if (body.length < 4 || body[0] !== 3) return false; // named_curve
  const pubLen = body[3]!;
  const paramsEnd = 4 + pubLen;
  if (paramsEnd > body.length) return false;
  const params = body.subarray(0, paramsEnd);
  return verifySigned(key, body.subarray(paramsEnd), Buffer.concat([clientRandom, serverRandom, params]));
}

/** CertificateVerify check: signature over all handshake messages before it. */
export function verifyCertificateVerify(key: KeyObject, body: Buffer, transcript: readonly Buffer[]): boolean {
  return verifySigned(key, body, Buffer.concat(transcript));
}

/** The 32-byte random of a ClientHello/ServerHello body (after the 2-byte version). */
export function helloRandom(body: Buffer): Buffer | undefined {
  return body.length >= 34 ? Buffer.from(body.subarray(2, 34)) : undefined;
}
