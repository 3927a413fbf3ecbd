// A VideoRoom publisher on janus.js for the uplink congestion test (our own page, not a Janus demo):
// it publishes the fake camera as one VP8 stream (no simulcast, no audio), so the only thing that
// moves the send rate is Chrome's own bandwidth estimate. The test drives it through window.harness
// and reads what the sender knows from getStats(): bytes sent (with headers), the estimate
// (availableOutgoingBitrate of the selected candidate pair), why quality is limited, and what the
// gateway's receiver reports say was lost.
// ?server=<Janus API URL>.
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const server = params.get('server');
  const log = [];
  const note = (s) => { log.push(`${Date.now()} ${s}`); console.log(`[uplink page] ${s}`); };

  let janus = null, pub = null, pubId = null, pubUp = false;
  const events = [];
  const waiters = [];
  const fire = () => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].test()) { waiters[i].resolve(); waiters.splice(i, 1); } };
  const until = (what, test, ms) => new Promise((resolve, reject) => {
    if (test()) return resolve();
    const w = { test, resolve: () => { clearTimeout(t); resolve(); } };
    const t = setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) waiters.splice(i, 1); reject(new Error(`${what}: timed out after ${ms} ms; log: ${log.slice(-8).join(' | ')}`)); }, ms);
    waiters.push(w);
  });

  function connect() {
    return new Promise((resolve, reject) => {
      Janus.init({ debug: ['warn', 'error'], callback: () => {
        janus = new Janus({ server, iceServers: [], success: resolve, error: (e) => { note(`session error ${e}`); reject(new Error(String(e))); } });
      } });
    });
  }

  /** Join `room` and publish the fake camera at width x height. */
  async function publish(room, opts) {
    await connect();
    pub = await new Promise((resolve, reject) => janus.attach({
      plugin: 'janus.plugin.videoroom',
      success: resolve,
      error: (e) => reject(new Error(String(e))),
      onmessage: (msg, jsep) => {
        events.push(msg);
        note(`publisher event ${JSON.stringify(msg)}`);
        if (msg.videoroom === 'joined') {
          pubId = msg.id;
          pub.createOffer({
            tracks: [{ type: 'video', recv: false, capture: { width: { exact: opts.width }, height: { exact: opts.height }, frameRate: { ideal: opts.fps } } }],
            success: (offer) => pub.send({ message: { request: 'publish', videocodec: 'vp8' }, jsep: offer }),
            error: (e) => note(`createOffer error ${JSON.stringify(e)}`),
          });
        }
        if (jsep) pub.handleRemoteJsep({ jsep });
        fire();
      },
      webrtcState: (on) => { pubUp = on; note(`publisher webrtc ${on ? 'up' : 'down'}`); fire(); },
    }));
    pub.send({ message: { request: 'join', ptype: 'publisher', room, display: 'uplink' } });
    await until('publisher webrtcup', () => pubUp, 30000);
    return pubId;
  }

  async function stats() {
    const out = { bytes: 0, headerBytes: 0, packets: 0, retransmittedBytes: 0, width: 0, height: 0, fps: 0, limitation: null, target: 0, available: 0, rttMs: 0, remoteLost: 0, remoteFractionLost: 0, sdpTwcc: false };
    const pc = pub && pub.webrtcStuff.pc;
    if (!pc) return out;
    const report = await pc.getStats();
    let pairId = null;
    report.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.bytes += s.bytesSent || 0;
        out.headerBytes += s.headerBytesSent || 0;
        out.packets += s.packetsSent || 0;
        out.retransmittedBytes += s.retransmittedBytesSent || 0;
        out.width = s.frameWidth || 0;
        out.height = s.frameHeight || 0;
        out.fps = s.framesPerSecond || 0;
        out.limitation = s.qualityLimitationReason || null;
        out.target = s.targetBitrate || 0;
      }
      if (s.type === 'candidate-pair' && (s.id === pairId || (pairId === null && s.nominated && s.state === 'succeeded'))) {
        out.available = s.availableOutgoingBitrate || 0;
        out.rttMs = Math.round((s.currentRoundTripTime || 0) * 1000);
      }
      if (s.type === 'remote-inbound-rtp' && s.kind === 'video') {
        out.remoteLost += s.packetsLost || 0;
        out.remoteFractionLost = s.fractionLost || 0;
      }
    });
    const remote = pc.remoteDescription;
    out.sdpTwcc = !!(remote && /a=rtcp-fb:\d+ transport-cc/.test(remote.sdp));
    return out;
  }

  let sub = null, subUp = false;
  /** Subscribe to `feed` (a page of its own: the publisher may be in another browser). */
  async function subscribe(room, feed) {
    if (janus === null) await connect();
    sub = await new Promise((resolve, reject) => janus.attach({
      plugin: 'janus.plugin.videoroom',
      success: resolve,
      error: (e) => reject(new Error(String(e))),
      onmessage: (msg, jsep) => {
        events.push(msg);
        note(`subscriber event ${JSON.stringify(msg)}`);
        if (jsep) {
          sub.createAnswer({
            jsep, tracks: [{ type: 'data' }],
            success: (answer) => sub.send({ message: { request: 'start', room }, jsep: answer }),
            error: (e) => note(`createAnswer error ${JSON.stringify(e)}`),
          });
        }
        fire();
      },
      onremotetrack: (track, mid, on) => {
        if (on && track.kind === 'video') {
          const v = document.getElementById('local');
          v.srcObject = new MediaStream([track]);
          v.play().catch(() => undefined);
        }
      },
      webrtcState: (on) => { subUp = on; note(`subscriber webrtc ${on ? 'up' : 'down'}`); fire(); },
    }));
    sub.send({ message: { request: 'join', ptype: 'subscriber', room, streams: [{ feed }] } });
    await until('subscriber webrtcup', () => subUp, 30000);
  }

  /** What the subscriber's video receiver knows: inbound-rtp, the SR-based remote-outbound-rtp, the RTX SSRC in the offer. */
  async function subStats() {
    const out = { inbound: null, remoteOutbound: [], offerRtxSsrc: 0, offerSsrc: 0 };
    const pc = sub && sub.webrtcStuff.pc;
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inbound = { ssrc: s.ssrc, packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0, nackCount: s.nackCount || 0, retransmittedPacketsReceived: s.retransmittedPacketsReceived || 0, retransmittedBytesReceived: s.retransmittedBytesReceived || 0, framesDecoded: s.framesDecoded || 0, bytesReceived: s.bytesReceived || 0 };
      }
      if (s.type === 'remote-outbound-rtp') out.remoteOutbound.push({ kind: s.kind, ssrc: s.ssrc, packetsSent: s.packetsSent || 0, bytesSent: s.bytesSent || 0, reportsSent: s.reportsSent || 0, remoteTimestamp: s.remoteTimestamp || 0 });
    });
    const fid = /a=ssrc-group:FID (\d+) (\d+)/.exec((pc.remoteDescription && pc.remoteDescription.sdp) || '');
    if (fid) { out.offerSsrc = Number(fid[1]); out.offerRtxSsrc = Number(fid[2]); }
    return out;
  }

  const ids = () => ({ session: janus && janus.getSessionId(), pub: pub && pub.getId(), sub: sub && sub.getId() });
  window.harness = { publish, subscribe, stats, subStats, ids, log, events };
})();
