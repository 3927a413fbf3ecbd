/**
 * The PeerConfig of a client-side Peer (our own WebRTC client in tests and load generators): what a
 * browser would do (full ICE, aggressive nomination, consent checks, DTLS MTU 1200) and quiet logs.
 * One definition, so tests and benchmarks load the server with the same client behaviour.
 */
import type { Socket } from 'node:dgram';
import type { RtpStreamInfo } from '../../src/core/plugin.js';
import type { Logger } from '../../src/log.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import type { DtlsCertificate } from '../../src/media/dtls/certificate.js';
import type { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { Peer, type PeerConfig } from '../../src/media/peer.js';

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

/**
 * A client Peer with that config on a socket from `allocator`, host candidates on `address`; what it
 * receives goes to `onRtp`. `waitUp(what)` waits (20 s at most) for its DTLS to be up.
 */
export async function openClientPeer(address: string, allocator: UdpPortAllocator, cert: DtlsCertificate, onRtp: (stream: RtpStreamInfo, buf: Buffer, len: number) => void): Promise<{ peer: Peer; waitUp(what: string): Promise<void> }> {
  const sock = await allocator.allocate();
  const candidates = await LocalCandidates.create({ enforceList: [address] });
  let up = false;
  const peer = new Peer(0, sock.socket as Socket, sock.port, candidates.hostCandidates(sock.port)!, clientPeerConfig(cert), {
    webrtcUp: () => (up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: () => {},
    localCandidate: () => {},
  });
  peer.setSink({ incomingRtp: onRtp, incomingRtcp: () => {}, incomingData: () => {}, dataReady: () => {} });
  const waitUp = async (what: string): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!up) {
      if (Date.now() > deadline) throw new Error(`${what} did not come up`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { peer, waitUp };
}
