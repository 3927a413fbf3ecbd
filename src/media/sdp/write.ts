/**
 * `SessionDescription` → SDP text with CRLF line endings, in the line order of RFC 8866 and an attribute
 * order close to what Chrome emits (transport, mid, extmaps, direction, msid, rtcp-mux, codecs, ssrcs,
 * rids/simulcast, sctp, unknown attributes, candidates).
 */
import { SdpError } from './errors.js';
import type { Attribute, Connection, Extmap, MediaSection, SessionDescription, Simulcast, SimulcastRid } from './types.js';

const CRLF = '\r\n';

function conn(c: Connection): string {
  return `${c.netType} ${c.addrType} ${c.address}`;
}

function extmap(e: Extmap): string {
  return `a=extmap:${e.id}${e.direction ? `/${e.direction}` : ''} ${e.uri}${e.attributes ? ` ${e.attributes}` : ''}`;
}

function attr(a: Attribute): string {
  return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

function simulcastStreams(streams: SimulcastRid[][]): string {
  return streams.map((alts) => alts.map((a) => (a.paused ? `~${a.rid}` : a.rid)).join(',')).join(';');
}

function simulcast(s: Simulcast): string {
  const parts: string[] = [];
  if (s.send) parts.push(`send ${simulcastStreams(s.send)}`);
  if (s.recv) parts.push(`recv ${simulcastStreams(s.recv)}`);
  return `a=simulcast:${parts.join(' ')}`;
}

function candidate(c: string): string {
  const v = c.startsWith('a=') ? c.slice(2) : c;
  return v.startsWith('candidate:') ? `a=${v}` : `a=candidate:${v}`;
}

function writeMedia(m: MediaSection, out: string[]): void {
  const port = m.numPorts !== undefined ? `${m.port}/${m.numPorts}` : String(m.port);
  out.push(`m=${[m.kind, port, m.protocol, ...m.formats].join(' ')}`);
  for (const x of m.extraLines) if (x.type === 'i') out.push(`i=${x.value}`);
  if (m.connection) out.push(`c=${conn(m.connection)}`);
  for (const b of m.bandwidths) out.push(`b=${b.type}:${b.value}`);
  for (const x of m.extraLines) if (x.type !== 'i') out.push(`${x.type}=${x.value}`);
  if (m.rtcp) out.push(`a=rtcp:${m.rtcp.port}${m.rtcp.connection ? ` ${conn(m.rtcp.connection)}` : ''}`);
  if (m.iceUfrag !== undefined) out.push(`a=ice-ufrag:${m.iceUfrag}`);
  if (m.icePwd !== undefined) out.push(`a=ice-pwd:${m.icePwd}`);
  if (m.iceOptions !== undefined) out.push(`a=ice-options:${m.iceOptions.join(' ')}`);
  for (const f of m.fingerprints) out.push(`a=fingerprint:${f.hash} ${f.value}`);
  if (m.setup !== undefined) out.push(`a=setup:${m.setup}`);
  if (m.mid !== undefined) out.push(`a=mid:${m.mid}`);
  if (m.bundleOnly) out.push('a=bundle-only');
  if (m.extmapAllowMixed) out.push('a=extmap-allow-mixed');
  for (const e of m.extmaps) out.push(extmap(e));
  if (m.direction !== undefined) out.push(`a=${m.direction}`);
  for (const s of m.msids) out.push(`a=msid:${s.stream}${s.track !== undefined ? ` ${s.track}` : ''}`);
  if (m.rtcpMux) out.push('a=rtcp-mux');
  if (m.rtcpRsize) out.push('a=rtcp-rsize');
  // Codecs: each rtpmap followed by its rtcp-fb and fmtp lines, then any left over.
  const usedFb = new Set<number>();
  const usedFmtp = new Set<number>();
  const seenPt = new Set<number>();
  for (const r of m.rtpmaps) {
    out.push(`a=rtpmap:${r.pt} ${r.codec}/${r.clock}${r.channels !== undefined ? `/${r.channels}` : ''}`);
    if (seenPt.has(r.pt)) continue;
    seenPt.add(r.pt);
    m.rtcpFbs.forEach((fb, i) => {
      if (fb.pt !== r.pt) return;
      usedFb.add(i);
      out.push(`a=rtcp-fb:${fb.pt} ${fb.type}${fb.subtype !== undefined ? ` ${fb.subtype}` : ''}`);
    });
    m.fmtps.forEach((f, i) => {
      if (f.pt !== r.pt) return;
      usedFmtp.add(i);
      out.push(`a=fmtp:${f.pt} ${f.raw}`);
    });
  }
  m.rtcpFbs.forEach((fb, i) => {
    if (!usedFb.has(i)) out.push(`a=rtcp-fb:${fb.pt} ${fb.type}${fb.subtype !== undefined ? ` ${fb.subtype}` : ''}`);
  });
  m.fmtps.forEach((f, i) => {
    if (!usedFmtp.has(i)) out.push(`a=fmtp:${f.pt} ${f.raw}`);
  });
  for (const g of m.ssrcGroups) out.push(`a=ssrc-group:${g.semantics} ${g.ssrcs.join(' ')}`);
  for (const s of m.ssrcs) out.push(`a=ssrc:${s.ssrc} ${s.attribute}${s.value !== undefined ? `:${s.value}` : ''}`);
  for (const r of m.rids) {
    const restrictions: string[] = [];
    if (r.payloads.length > 0) restrictions.push(`pt=${r.payloads.join(',')}`);
    for (const [k, v] of Object.entries(r.params)) restrictions.push(v === '' ? k : `${k}=${v}`);
    out.push(`a=rid:${r.id} ${r.direction}${restrictions.length > 0 ? ` ${restrictions.join(';')}` : ''}`);
  }
  if (m.simulcast) out.push(simulcast(m.simulcast));
  if (m.sctpPort !== undefined) out.push(`a=sctp-port:${m.sctpPort}`);
  if (m.maxMessageSize !== undefined) out.push(`a=max-message-size:${m.maxMessageSize}`);
  for (const a of m.attributes) out.push(attr(a));
  for (const c of m.candidates) out.push(candidate(c));
  if (m.endOfCandidates) out.push('a=end-of-candidates');
}

/** Write an SDP (CRLF-terminated lines, including the last one). */
export function writeSdp(s: SessionDescription): string {
  const out: string[] = [];
  const o = s.origin;
  out.push(`v=${s.version}`);
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  out.push(`s=${s.name}`);
  // RFC 8866 order: i u e p c b t r z k a. Extra lines keep their relative order; t-related ones follow t=.
  const before = s.extraLines.filter((x) => 'iuep'.includes(x.type));
  const after = s.extraLines.filter((x) => !'iuep'.includes(x.type));
  for (const x of before) out.push(`${x.type}=${x.value}`);
  if (s.connection) out.push(`c=${conn(s.connection)}`);
  for (const b of s.bandwidths) out.push(`b=${b.type}:${b.value}`);
  out.push(`t=${s.timing.start} ${s.timing.stop}`);
  for (const x of after) out.push(`${x.type}=${x.value}`);
  if (s.iceLite) out.push('a=ice-lite');
  if (s.iceUfrag !== undefined) out.push(`a=ice-ufrag:${s.iceUfrag}`);
  if (s.icePwd !== undefined) out.push(`a=ice-pwd:${s.icePwd}`);
  if (s.iceOptions !== undefined) out.push(`a=ice-options:${s.iceOptions.join(' ')}`);
  for (const f of s.fingerprints) out.push(`a=fingerprint:${f.hash} ${f.value}`);
  if (s.setup !== undefined) out.push(`a=setup:${s.setup}`);
  for (const g of s.groups) out.push(`a=group:${[g.semantics, ...g.mids].join(' ')}`);
  if (s.extmapAllowMixed) out.push('a=extmap-allow-mixed');
  if (s.msidSemantic) out.push(`a=msid-semantic: ${[s.msidSemantic.semantic, ...s.msidSemantic.ids].join(' ')}`);
  for (const e of s.extmaps) out.push(extmap(e));
  if (s.direction !== undefined) out.push(`a=${s.direction}`);
  for (const a of s.attributes) out.push(attr(a));
  if (s.endOfCandidates) out.push('a=end-of-candidates');
  for (const m of s.media) writeMedia(m, out);
  for (const line of out) {
    // A value smuggling a line break would inject lines into what the browser sees.
    if (line.includes('\r') || line.includes('\n')) throw new SdpError(`line break inside SDP value: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return out.join(CRLF) + CRLF;
}
