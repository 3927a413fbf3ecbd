/**
 * What the Chromium (browser.ts) and Firefox (firefox.ts) harnesses share about a demo page, so that the
 * two drivers differ only in how they drive the browser:
 * - PC_COLLECTOR: the init script that collects every RTCPeerConnection (and its data channels);
 * - statsScript(): the in-page report of those PeerConnections (PcReport), with the one part that
 *   differs per browser: where the DTLS state and the selected candidate pair come from;
 * - pageConsole(): the page's captured console with waitForConsole(), step() and diagnostics().
 */
import { KNOWN_MISSING, type DemoServer } from './demo-server.js';

/** One inbound RTP stream as getStats() reports it (only present once a packet arrived). */
export interface InboundReport {
  kind: 'audio' | 'video';
  mid: string | null;
  codec: string | null;
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  totalAudioEnergy: number;
  /** Seconds of audio played out (totalAudioEnergy / totalSamplesDuration = mean power, 0..1). */
  totalSamplesDuration: number;
  audioLevel: number;
}

export interface OutboundReport {
  kind: 'audio' | 'video';
  mid: string | null;
  packetsSent: number;
  bytesSent: number;
}

export interface DataChannelReport {
  label: string;
  state: string;
  messagesSent: number;
  messagesReceived: number;
}

export interface PcReport {
  index: number;
  connectionState: string;
  iceConnectionState: string;
  iceGatheringState: string;
  signalingState: string;
  /** 'offer' | 'answer' | null */
  local: string | null;
  remote: string | null;
  /** a=candidate lines in the remote SDP (trickled candidates are not counted). */
  remoteSdpCandidates: number;
  /** m-line kinds of the remote SDP. */
  remoteMedia: string[];
  dtlsState: string | null;
  selectedPair: string | null;
  inbound: InboundReport[];
  outbound: OutboundReport[];
  dataChannels: DataChannelReport[];
  statsError: string | null;
}

/**
 * Collects every RTCPeerConnection the page creates, and the data channels of each (runs before any
 * page script; the page itself is untouched). The channels are kept because Firefox reports no
 * data-channel stats objects everywhere: there their readyState is read from the channels themselves.
 */
export const PC_COLLECTOR = `(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__harnessPcs) return;
  window.__harnessPcs = [];
  class HarnessPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      this.__harnessDcs = [];
      window.__harnessPcs.push(this);
      this.addEventListener('datachannel', (e) => this.__harnessDcs.push(e.channel));
    }
    createDataChannel(...args) {
      const dc = super.createDataChannel(...args);
      this.__harnessDcs.push(dc);
      return dc;
    }
  }
  window.RTCPeerConnection = HarnessPeerConnection;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = HarnessPeerConnection;
})();`;

export type BrowserFlavor = 'chromium' | 'firefox';

/**
 * The per-browser parts of the report, as page-side code fragments run with `pc`, `r` (the report),
 * `stats`, `byId`, `cand` and `pair` in scope.
 * - Chromium: a 'transport' stats object carries dtlsState and selectedCandidatePairId; data channels
 *   have 'data-channel' stats.
 * - Firefox: no 'transport' stats, so the DTLS state is RTCDtlsTransport.state and the selected pair is
 *   the candidate pair flagged `selected` (or nominated and succeeded); data channels come from the
 *   collector.
 */
const FLAVOR: Record<BrowserFlavor, { beforeStats: string; perStat: string }> = {
  chromium: {
    beforeStats: '',
    perStat: `
          if (s.type === 'transport') {
            r.dtlsState = s.dtlsState || null;
            const p = s.selectedCandidatePairId ? byId.get(s.selectedCandidatePairId) : null;
            if (p) pair = p;
          } else if (s.type === 'data-channel') {
            r.dataChannels.push({ label: s.label, state: s.state, messagesSent: s.messagesSent || 0, messagesReceived: s.messagesReceived || 0 });
          }`,
  },
  firefox: {
    beforeStats: `
    try {
      const t = (pc.sctp && pc.sctp.transport) || (pc.getReceivers()[0] && pc.getReceivers()[0].transport) || (pc.getSenders()[0] && pc.getSenders()[0].transport);
      if (t) r.dtlsState = t.state;
    } catch (e) { /* no transport yet */ }
    for (const dc of pc.__harnessDcs || []) r.dataChannels.push({ label: dc.label, state: dc.readyState, messagesSent: 0, messagesReceived: 0 });`,
    perStat: `
          if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) { if (!pair || s.selected) pair = s; }`,
  },
};

/**
 * The page expression that reports every collected PeerConnection as a JSON string (a string, so both
 * drivers' evaluate() return it unchanged): read it with parsePcReports().
 */
export function statsScript(flavor: BrowserFlavor): string {
  const f = FLAVOR[flavor];
  return `(async () => {
  const pcs = window.__harnessPcs || [];
  const out = [];
  for (let i = 0; i < pcs.length; i++) {
    const pc = pcs[i];
    const ld = pc.localDescription, rd = pc.remoteDescription;
    const r = {
      index: i, connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState,
      iceGatheringState: pc.iceGatheringState, signalingState: pc.signalingState,
      local: ld ? ld.type : null, remote: rd ? rd.type : null,
      remoteSdpCandidates: rd ? (rd.sdp.match(/^a=candidate:/gm) || []).length : 0,
      remoteMedia: rd ? (rd.sdp.match(/^m=[a-z]+/gm) || []).map((s) => s.slice(2)) : [],
      dtlsState: null, selectedPair: null, inbound: [], outbound: [], dataChannels: [], statsError: null,
    };${f.beforeStats}
    if (pc.connectionState !== 'closed') {
      let stats = null;
      try { stats = await pc.getStats(); } catch (e) { r.statsError = String(e); }
      if (stats) {
        const byId = new Map();
        stats.forEach((s) => byId.set(s.id, s));
        const cand = (id) => { const c = byId.get(id); return c ? (c.candidateType + ' ' + (c.address || c.ip) + ':' + c.port + '/' + c.protocol) : '?'; };
        let pair = null;
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp') {
            const c = s.codecId ? byId.get(s.codecId) : null;
            r.inbound.push({ kind: s.kind || s.mediaType, mid: s.mid ?? null, codec: c ? c.mimeType : null,
              packetsReceived: s.packetsReceived || 0, bytesReceived: s.bytesReceived || 0, packetsLost: s.packetsLost || 0,
              framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
              totalAudioEnergy: s.totalAudioEnergy || 0, totalSamplesDuration: s.totalSamplesDuration || 0, audioLevel: s.audioLevel || 0 });
          } else if (s.type === 'outbound-rtp') {
            r.outbound.push({ kind: s.kind || s.mediaType, mid: s.mid ?? null, packetsSent: s.packetsSent || 0, bytesSent: s.bytesSent || 0 });
          } else {${f.perStat}
          }
        });
        if (pair) r.selectedPair = cand(pair.localCandidateId) + ' -> ' + cand(pair.remoteCandidateId) + ' (' + pair.state + ')';
      }
    }
    out.push(r);
  }
  return JSON.stringify(out);
})()`;
}

/** The reports statsScript() returned. */
export function parsePcReports(result: unknown): PcReport[] {
  if (typeof result !== 'string') throw new Error(`the page's PeerConnection report is not a JSON string (${typeof result})`);
  return JSON.parse(result) as PcReport[];
}

/** True for URLs a demo page may load: this machine (and the namespace's page host), or no network at all. */
export function isLocalUrl(u: string, extraHost?: string): boolean {
  try {
    const url = new URL(u);
    if (['data:', 'blob:', 'about:', 'moz-extension:', 'chrome:', 'resource:'].includes(url.protocol)) return true;
    return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || (extraHost !== undefined && url.hostname === extraHost);
  } catch {
    return false;
  }
}

/** A demo page, whichever browser shows it (browser.ts DemoPage, firefox.ts FirefoxDemoPage add the driver's objects). */
export interface DemoPageBase {
  label: string;
  demo: DemoServer;
  url: string;
  /** Captured console lines ("[type] text"), page errors and failed requests, in order. */
  log: string[];
  /** Click the demo's Start button (creates the Janus session). */
  start(): Promise<void>;
  /** Fill #username and click #register (videoroom/textroom/audiobridge demos). */
  register(name: string, timeoutMs?: number): Promise<void>;
  /** Resolve with the first console line (past or future) matching `re`; reject with diagnostics after timeoutMs. */
  waitForConsole(re: RegExp, timeoutMs: number, what: string): Promise<string>;
  /** Run a UI step; a failure is rethrown as "<label>: <what>: <error>" plus the page diagnostics. */
  step<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** Texts of the bootbox alerts/dialogs currently shown by the page. */
  alerts(): Promise<string[]>;
  /** getStats() of every RTCPeerConnection the page created. */
  peerConnections(): Promise<PcReport[]>;
  /** Human-readable state for failure messages: alerts, PCs, missing files, console tail. */
  diagnostics(consoleLines?: number): Promise<string>;
  close(): Promise<void>;
}

const LOG_LIMIT = 4000;

export interface PageConsole {
  /** Captured console lines ("[type] text"), page errors and failed requests, in order. */
  log: string[];
  /** Record one line (and resolve the waiters it matches). */
  push(line: string): void;
  /** Resolve with the first console line (past or future) matching `re`; reject with diagnostics after timeoutMs. */
  waitForConsole(re: RegExp, timeoutMs: number, what: string): Promise<string>;
  /** Run a UI step; a failure is rethrown as "<label>: <what>: <error>" plus the page diagnostics. */
  step<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** Human-readable state for failure messages: alerts, PCs, missing files, console tail. */
  diagnostics(consoleLines?: number): Promise<string>;
}

export interface PageConsoleOptions {
  label: string;
  /** The first line of diagnostics() (which page, which server). */
  header: string;
  demo: DemoServer;
  alerts(): Promise<string[]>;
  peerConnections(): Promise<PcReport[]>;
  /** Lines appended to diagnostics() (e.g. the browser's own stderr). */
  extraDiagnostics?(): string[];
  /** Formats one PeerConnection for diagnostics (browser.ts's describePc). */
  describePc(pc: PcReport): string;
}

/** The console capture, waits and diagnostics of one demo page, whatever drives the browser. */
export function pageConsole(o: PageConsoleOptions): PageConsole {
  const { label } = o;
  const log: string[] = [];
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  const push = (line: string) => {
    log.push(line);
    if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.re.test(line)) {
        waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  };
  const diagnostics = async (consoleLines = 40): Promise<string> => {
    const parts: string[] = [o.header];
    const a = await o.alerts();
    if (a.length) parts.push(`page alerts: ${a.map((s) => JSON.stringify(s.trim())).join(' | ')}`);
    if (o.demo.missing.length) {
      const missing = [...new Set(o.demo.missing)].map((p) => (KNOWN_MISSING.includes(p) ? `${p} (not packaged by Debian; only for spatial audio)` : p));
      parts.push(`files the page asked for that do not exist: ${missing.join(', ')}`);
    }
    try {
      const pcs = await o.peerConnections();
      if (pcs.length === 0) parts.push('no RTCPeerConnection was created');
      for (const pc of pcs) parts.push(`pc#${pc.index}: ${o.describePc(pc)}`);
    } catch (e) {
      parts.push(`getStats failed: ${(e as Error).message}`);
    }
    const interesting = log.filter((l) => /^\[(error|warn|warning|pageerror|requestfailed|http|harness)/.test(l) || /webrtcup|hangup|ICE state|WebRTC PeerConnection|Error|error/.test(l));
    parts.push(`console (errors/state, last ${Math.min(interesting.length, consoleLines)} of ${interesting.length}):`);
    for (const l of interesting.slice(-consoleLines)) parts.push(`  ${l.slice(0, 400)}`);
    parts.push('console tail:');
    for (const l of log.slice(-Math.ceil(consoleLines / 2))) parts.push(`  ${l.slice(0, 300)}`);
    if (o.extraDiagnostics) parts.push(...o.extraDiagnostics());
    return parts.join('\n');
  };
  const waitForConsole = (re: RegExp, timeoutMs: number, what: string): Promise<string> => {
    const found = log.find((l) => re.test(l));
    if (found) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
      };
      const w = { re, resolve: (l: string) => (finish(), resolve(l)) };
      const fail = (why: string) => {
        finish();
        void diagnostics().then((d) => reject(new Error(`${label}: ${what} ${why} (waited for console ${re})\n${d}`)));
      };
      const timer = setTimeout(() => fail(`did not happen within ${timeoutMs} ms`), timeoutMs);
      // A bootbox alert is how the demos report errors: fail at once, quoting it.
      const poll = setInterval(() => {
        void o.alerts().then((a) => {
          if (!done && a.length) fail(`failed: the page alerted ${JSON.stringify(a.join(' | ').trim())}`);
        });
      }, 500);
      waiters.push(w);
    });
  };
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw new Error(`${label}: ${what}: ${(e as Error).message.split('\n')[0]}\n${await diagnostics()}`);
    }
  };
  return { log, push, waitForConsole, step, diagnostics };
}
