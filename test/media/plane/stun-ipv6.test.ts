/**
 * Server-reflexive candidates over IPv6 (nat.stun_server with media.ipv6), against a real STUN server
 * (coturn's turnserver in STUN-only mode) on an IPv6 address in a network namespace, reached through a
 * real NAT66: ip6tables SNAT on this machine rewrites what leaves for the namespace to an address of
 * another prefix (fd00:79:<n>::5, routed back to us), so the reflexive address the server sees and
 * returns differs from every host address, as behind a NAT. Checked in the answer SDP (Janus API):
 * an IPv6 srflx candidate with that address, related to the IPv6 host candidate's address and port;
 * no IPv4 srflx (an IPv6 literal serves IPv6 only); nat_1_1_mapping with an IPv6 entry still maps the
 * IPv6 host candidate while the srflx stays; and the same with single_port (one IPv6 socket, asked once).
 * Skipped, with the reason, without root/netns/ip6tables NAT or turnserver.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { JanusMessage } from '../../../src/core/messages.js';
import { tryParseCandidate, type IceCandidate } from '../../../src/media/ice/candidate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { clientOffer, makeClient, makeWorld, waitFor, type World } from '../peer/helpers.js';
import { freeMediaPort, ImpairedLink, netnsUnavailable } from '../../helpers/netns.js';
import { ensureSystemPackage } from '../../helpers/system.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

function unavailable(): string | null {
  const n = netnsUnavailable();
  if (n) return n;
  try {
    execFileSync('ip6tables', ['-t', 'nat', '-L', '-n'], { stdio: 'ignore' });
  } catch {
    return 'ip6tables NAT unavailable';
  }
  // Installed like the reference Janus when we are root with apt (CI is); only its absence elsewhere skips.
  try {
    ensureSystemPackage('coturn', '/usr/bin/turnserver');
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
const skip = unavailable();

async function answerCandidates(w: World): Promise<{ answer: string; candidates: IceCandidate[] }> {
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
    const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o' && e.jsep), 10_000);
    const answer = ev.jsep!.sdp;
    return { answer, candidates: parseSdp(answer).media[0]!.candidates.map((l) => tryParseCandidate(l)!).filter(Boolean) };
  } finally {
    c.close();
  }
}

describe('stun_server over IPv6: srflx candidates through a NAT66, from a real STUN server in a namespace', { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  let stun: ChildProcess | undefined;
  let hostIp6 = '';
  let nsIp6 = '';
  let mapped6 = '';
  let snat: string[] = [];
  const stunPort = 3478;
  before(async () => {
    link = new ImpairedLink('/bin/false');
    const n = link.hostIp.split('.')[2];
    hostIp6 = `fd00:78:${n}::1`;
    nsIp6 = `fd00:78:${n}::2`;
    mapped6 = `fd00:79:${n}::5`;
    const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', link!.ns, ...args]);
    execFileSync('ip', ['-6', 'addr', 'add', `${hostIp6}/64`, 'dev', link.hostIf, 'nodad']);
    inNs('ip', '-6', 'addr', 'add', `${nsIp6}/64`, 'dev', link.nsIf, 'nodad');
    // The NAT's outside prefix is routed back to us; conntrack turns the answers back to our address.
    inNs('ip', '-6', 'route', 'add', `fd00:79:${n}::/64`, 'via', hostIp6);
    snat = ['POSTROUTING', '-o', link.hostIf, '-s', hostIp6, '-p', 'udp', '-j', 'SNAT', '--to-source', mapped6];
    execFileSync('ip6tables', ['-t', 'nat', '-A', ...snat]);
    stun = spawn('ip', ['netns', 'exec', link.ns, 'turnserver', '--stun-only', '-n', '--no-cli', '--no-tls', '--no-dtls', '--listening-ip', nsIp6, '--listening-port', String(stunPort), '--log-file', 'stdout', '--simple-log', '--no-software-attribute'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    stun.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    stun.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    // Listening once `ss` in the namespace shows the UDP socket.
    await waitFor(`turnserver listening on [${nsIp6}]:${stunPort} (output: ${out.slice(-500)})`, () => execFileSync('ip', ['netns', 'exec', link!.ns, 'ss', '-uln']).toString().includes(`${nsIp6}]:${stunPort}`), 10_000);
  });
  after(() => {
    if (stun?.pid !== undefined) {
      try {
        process.kill(-stun.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    if (snat.length > 0) {
      try {
        execFileSync('ip6tables', ['-t', 'nat', '-D', ...snat]);
      } catch {
        /* gone */
      }
    }
    link?.remove();
  });

  const tune = (extra?: (c: World['config']) => void) => (c: World['config']) => {
    c.media.ipv6 = true;
    c.nat.ice_enforce_list = [link!.hostIf];
    c.nat.stun_server = nsIp6;
    c.nat.stun_port = stunPort;
    extra?.(c);
  };

  test('the startup probe learns the IPv6 mapping; each PeerConnection advertises an IPv6 srflx candidate, none for IPv4', { timeout: 30_000 }, async () => {
    const w = await makeWorld(tune(), { discover: true });
    try {
      assert.equal(w.plane.candidates.stunUsable6, true, 'the IPv6 probe got an answer');
      assert.equal(w.plane.candidates.publicIp6, mapped6, 'the reflexive address is the NAT66 one');
      assert.equal(w.plane.candidates.stunUsable, false, 'an IPv6 literal stun_server is not asked over IPv4');
      const { answer, candidates } = await answerCandidates(w);
      const host6 = candidates.find((x) => x.type === 'host' && x.address === hostIp6 && x.transport === 'udp');
      const srflx = candidates.filter((x) => x.type === 'srflx');
      assert.ok(host6, `an IPv6 host candidate:\n${answer}`);
      assert.equal(srflx.length, 1, `one srflx candidate:\n${answer}`);
      assert.equal(srflx[0]!.address, mapped6);
      assert.equal(srflx[0]!.relatedAddress, hostIp6);
      assert.equal(srflx[0]!.relatedPort, host6.port, 'related to the IPv6 socket of this PeerConnection');
      assert.ok(srflx[0]!.priority < host6.priority, 'srflx below its host candidate');
      console.log(`# ipv6 srflx: ${srflx[0]!.address}:${srflx[0]!.port} raddr ${srflx[0]!.relatedAddress} rport ${srflx[0]!.relatedPort}`);
    } finally {
      await w.stop();
    }
  });

  test('nat_1_1_mapping with an IPv6 entry: the IPv6 host candidate is mapped, the srflx candidate stays', { timeout: 30_000 }, async () => {
    const w = await makeWorld(tune((c) => (c.nat.nat_1_1_mapping = ['2001:db8:ffff::7'])), { discover: true });
    try {
      const { answer, candidates } = await answerCandidates(w);
      const hosts6 = candidates.filter((x) => x.type === 'host' && x.address.includes(':') && x.transport === 'udp');
      assert.deepEqual(hosts6.map((x) => x.address), ['2001:db8:ffff::7'], `the IPv6 host candidate is mapped:\n${answer}`);
      assert.ok(!candidates.some((x) => x.type === 'host' && x.address === hostIp6), 'the private IPv6 host address is replaced');
      const srflx = candidates.find((x) => x.type === 'srflx');
      assert.ok(srflx && srflx.address === mapped6 && srflx.relatedAddress === hostIp6, `the srflx candidate stays, related to the real base:\n${answer}`);
      assert.ok(candidates.some((x) => x.type === 'host' && x.address === link!.hostIp), 'the IPv4 host candidate is untouched (no IPv4 entry)');
    } finally {
      await w.stop();
    }
  });

  test('single_port: every PeerConnection advertises the mapping of the shared IPv6 socket, related to the one port', { timeout: 30_000 }, async () => {
    const port = await freeMediaPort();
    const w = await makeWorld(tune((c) => (c.media.single_port = port)), { discover: true });
    try {
      const a = await answerCandidates(w);
      const b = await answerCandidates(w);
      for (const { answer, candidates } of [a, b]) {
        const srflx = candidates.find((x) => x.type === 'srflx');
        assert.ok(srflx, `a srflx candidate:\n${answer}`);
        assert.equal(srflx.address, mapped6);
        assert.equal(srflx.relatedAddress, hostIp6);
        assert.equal(srflx.relatedPort, port, 'related to the one port');
      }
    } finally {
      await w.stop();
    }
  });
});
if (skip) console.log(`# stun-ipv6 test skipped: ${skip}`);
