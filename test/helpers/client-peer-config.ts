/**
 * The PeerConfig of a client-side Peer (our own WebRTC client in tests and load generators): what a
 * browser would do (full ICE, aggressive nomination, consent checks, DTLS MTU 1200) and quiet logs.
 * One definition, so tests and benchmarks load the server with the same client behaviour.
 */
import type { Logger } from '../../src/log.js';
import type { DtlsCertificate } from '../../src/media/dtls/certificate.js';
import type { PeerConfig } from '../../src/media/peer.js';

export const silentLog: Logger = { fatal() {}, error() {}, warn() {}, info() {}, verb() {}, huge() {}, debug() {}, enabled: () => false, child: () => silentLog };

export function clientPeerConfig(certificate: DtlsCertificate, extra: Partial<PeerConfig> & { settings?: PeerConfig['settings'] } = {}): PeerConfig {
  return {
    certificate,
    iceLite: false,
    fullTrickle: false,
    nomination: 'aggressive',
    consentFreshness: true,
    keepaliveConncheck: false,
    dtlsMtu: 1200,
    hangupOnFailed: false,
    settings: () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false }),
    log: silentLog,
    ...extra,
  };
}
