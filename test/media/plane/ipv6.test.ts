/**
 * media.ipv6: IPv6 host candidates (global and ULA; link-local only when nothing else or with
 * ipv6_linklocal), nat_1_1_mapping IPv6 entries, and a PeerConnection whose client offers only IPv6
 * candidates connects and echoes over the plane's udp6 socket (real sockets on ::1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import type { Socket } from 'node:dgram';
import type { JanusMessage } from '../../../src/core/messages.js';
import { LocalCandidates } from '../../../src/media/candidates.js';
import { generateCertificate } from '../../../src/media/dtls/certificate.js';
import { tryParseCandidate } from '../../../src/media/ice/candidate.js';
import { UdpPortAllocator } from '../../../src/media/net/port-allocator.js';
import { Peer } from '../../../src/media/peer.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import type { MediaSink } from '../../../src/core/media-plane.js';
import { clientPeerConfig } from '../../helpers/client-peer-config.js';
import { makeWorld, quietLog, rtpPacket, waitFor } from '../peer/helpers.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../../src/media/sdp/write.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null });
const v6 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: null, scopeid: 0 });

test('IPv6 addresses: global and ULA, not link-local unless nothing else (or ipv6_linklocal); off without media.ipv6', async () => {
  const interfaces = { lo: [v4('127.0.0.1', true), v6('::1', true)], eth0: [v4('192.168.1.10'), v6('2001:db8::10'), v6('fe80::1')], eth1: [v6('fd00:1::5'), v6('fe80::2')] };
  const a6 = async (o: object) => (await LocalCandidates.create({ interfaces, ...o })).addresses6.map((a) => a.address);
  assert.deepEqual(await a6({}), [], 'media.ipv6 off');
  assert.deepEqual(await a6({ ipv6: true }), ['2001:db8::10', 'fd00:1::5']);
  assert.deepEqual(await a6({ ipv6: true, ipv6LinkLocal: true }), ['2001:db8::10', 'fe80::1', 'fd00:1::5', 'fe80::2']);
  assert.deepEqual(await a6({ ipv6: true, interfaces: { eth0: [v4('192.168.1.10'), v6('fe80::1')] } }), ['fe80::1'], 'link-local when nothing else');
  const lc = await LocalCandidates.create({ interfaces, ipv6: true });
  assert.deepEqual(lc.addresses.map((a) => a.address), ['192.168.1.10'], 'the IPv4 list is unchanged');
  // snapshot/restore (media workers) keeps them
  assert.deepEqual(LocalCandidates.restore(lc.snapshot()).addresses6.map((a) => a.address), ['2001:db8::10', 'fd00:1::5']);
  // candidates: IPv6 ranked above IPv4, nat_1_1_mapping maps each family to its own entries
  const nat = await LocalCandidates.create({ interfaces, ipv6: true, nat11Mapping: ['203.0.113.7', '2001:db8:ffff::7'] });
  const sc = nat.hostCandidates(10000)!;
  nat.addIpv6(sc, null as unknown as Socket, 10002);
  const addrs = sc.advertised.map((c) => `${c.address}:${c.port}`);
  assert.ok(addrs.includes('203.0.113.7:10000') && addrs.includes('2001:db8:ffff::7:10002'), addrs.join(' '));
  assert.ok(sc.advertised.every((c) => c.address !== '2001:db8::10' && c.address !== '192.168.1.10'), `private addresses replaced: ${addrs.join(' ')}`);
  assert.equal(sc.v6!.base.address, '2001:db8::10', 'the agent pairs from the real IPv6 address');
  const lc2 = await LocalCandidates.create({ interfaces, ipv6: true });
  const sc2 = lc2.hostCandidates(10000)!;
  lc2.addIpv6(sc2, null as unknown as Socket, 10002);
  const p4 = sc2.advertised.find((c) => c.address === '192.168.1.10')!.priority;
  for (const c of sc2.advertised.filter((x) => x.address.includes(':'))) assert.ok(c.priority > p4, 'IPv6 host above IPv4 host (RFC 8421)');
});

test('media.ipv6: a client offering only IPv6 candidates connects and echoes over the udp6 socket', { timeout: 40_000 }, async () => {
  const w = await makeWorld((c) => {
    c.media.ipv6 = true;
    c.nat.ice_enforce_list = ['127.0.0.1', '::1'];
  }, { discover: true });
  // The client: our own Peer with a udp4 and a udp6 socket on loopback.
  const alloc4 = new UdpPortAllocator({ range: { min: 0, max: 0 } });
  const alloc6 = new UdpPortAllocator({ range: { min: 0, max: 0 }, address: '::1', type: 'udp6' });
  const s4 = await alloc4.allocate('127.0.0.1');
  const s6 = await alloc6.allocate();
  const lc = await LocalCandidates.create({ enforceList: ['127.0.0.1', '::1'], ipv6: true });
  const cands = lc.hostCandidates(s4.port)!;
  lc.addIpv6(cands, s6.socket, s6.port);
  const rtp: Buffer[] = [];
  let up = false;
  const client = new Peer(0, s4.socket, s4.port, cands, clientPeerConfig(generateCertificate(), { log: quietLog }), {
    webrtcUp: () => (up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: () => {},
    localCandidate: () => {},
  });
  const sink: MediaSink = { incomingRtp: (_s, buf, len) => void rtp.push(Buffer.from(buf.subarray(0, len))), incomingRtcp: () => {}, incomingData: () => {}, dataReady: () => {} };
  client.setSink(sink);
  try {
    assert.ok(w.plane.candidates.addresses6.some((a) => a.address === '::1'));
    const [s, h] = await w.attachEcho();
    const d = buildOffer([{ kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) }]);
    // only the IPv6 candidate in the offer: the server's IPv4 checks have nowhere to go
    const offer = client
      .setLocalDescription(writeSdp(d), 'offer')
      .split('\r\n')
      .filter((l) => !l.startsWith('a=candidate:') || l.includes(' ::1 '))
      .join('\r\n');
    assert.match(offer, /a=candidate:\S+ 1 udp \d+ ::1 \d+ typ host/);
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o', body: {}, jsep: { type: 'offer', sdp: offer } });
    const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o' && e.jsep), 8000);
    const answerCands = [...new Set(ev.jsep!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))].map((l) => tryParseCandidate(l)!);
    assert.ok(answerCands.some((c) => c.address === '::1'), `IPv6 host candidate in the answer: ${answerCands.map((c) => c.address).join(', ')}`);
    assert.ok(answerCands.some((c) => c.address === '127.0.0.1'), 'IPv4 still advertised');
    const desc = parseSdp(ev.jsep!.sdp);
    client.setRemoteDescription(desc, extractRemoteTransport(desc, { type: 'answer' }), 'answer');
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h), 10_000);
    await waitFor('client up', () => up);
    const server = w.plane.peerOf(h)!;
    const pair = server.iceAgent!.getSelectedPair()!;
    assert.equal(pair.local.address, '::1');
    assert.equal(pair.remoteAddress.address, '::1');
    client.sendRtp('0', rtpPacket(111, 1, 960, 5, Buffer.from('ping6')), 17);
    await waitFor('echo over IPv6', () => rtp.find((p) => p.subarray(12).toString() === 'ping6'));
  } finally {
    client.close();
    await w.stop();
  }
});
