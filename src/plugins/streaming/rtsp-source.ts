/**
 * The source of an `rtsp` mountpoint: DESCRIBE / SETUP / PLAY over TCP (rtsp-client.ts), media over
 * UDP into the same packet path as an rtp mountpoint. The first connection happens at creation: with
 * rtsp_failcheck (default) a failure refuses the mountpoint; otherwise, and whenever the server goes
 * quiet for rtsp_reconnect_delay seconds or closes the connection, it reconnects after that delay.
 * The session is kept alive with OPTIONS at half the server's session timeout.
 */
import type { Socket } from 'node:dgram';
import { parseSdp } from '../../media/sdp/parse.js';
import { isRtp, rtpPayloadType } from '../../media/rtp/header.js';
import { deliverRtp } from './fanout.js';
import type { MediaSource, Mountpoint, MpStream } from './mountpoint.js';
import { setBigReceiveBuffer, type SourceDeps } from './rtp-source.js';
import { parseRtspUrl, RtspConnection, type RtspResponse, type RtspUrl } from './rtsp-client.js';
import { DEFAULT_SESSION_TIMEOUT_S, describedStream, parseSessionHeader, resolveControl } from './rtsp-describe.js';

const CONNECT_TIMEOUT_MS = 5000;

class RtspSource implements MediaSource {
  readonly ports: Array<[number, number, number]>;
  private conn: RtspConnection | null = null;
  private sockets: Socket[] = [];
  /** Incoming payload type per stream index (the server's), rewritten to the mountpoint's. */
  private readonly inPt: number[];
  private keepalive: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastMedia = 0;
  readonly target: RtspUrl;
  /** Connections made so far (tests and diagnostics). */
  connects = 0;
  /** Whether the current session's media is interleaved on the RTSP connection (tests, diagnostics). */
  interleaved = false;
  /** Interleaved RTP channel -> stream. */
  private readonly byChannel = new Map<number, MpStream>();

  constructor(
    private readonly mp: Mountpoint,
    private readonly deps: SourceDeps,
  ) {
    this.ports = mp.streams.map(() => [0, 0, 0]);
    this.inPt = mp.streams.map(() => -1);
    this.target = parseRtspUrl(mp.spec.url!);
  }

  /** Connect once; rejects with the reason (the caller decides whether that is fatal). */
  async connect(): Promise<void> {
    this.teardown();
    const user = this.mp.spec.rtspUser ?? this.target.user;
    const pwd = this.mp.spec.rtspPwd ?? this.target.password;
    const conn = new RtspConnection(this.target, user, pwd, CONNECT_TIMEOUT_MS);
    this.conn = conn;
    await conn.open();
    const desc = await conn.request('DESCRIBE', this.target.url, { Accept: 'application/sdp' });
    if (desc.status !== 200) throw new Error(`DESCRIBE answered ${desc.status} ${desc.reason}`);
    const base = desc.headers.get('content-base') ?? desc.headers.get('content-location') ?? this.target.url;
    const sdp = parseSdp(desc.body);
    let timeoutS = DEFAULT_SESSION_TIMEOUT_S;
    let interleaved = this.mp.spec.rtspInterleaved;
    this.byChannel.clear();
    for (const st of this.mp.streams) {
      const d = describedStream(sdp, st.spec.type);
      const pt = d.pt;
      // the mountpoint's codec/pt default to what the server describes
      if (st.spec.codec === null) {
        if (d.codec === undefined) throw new Error(`unsupported ${st.spec.type} codec in the RTSP description`);
        st.spec.codec = d.codec;
      }
      if (st.spec.pt === null) st.spec.pt = pt;
      if (st.spec.fmtp === null && d.fmtp !== null) st.spec.fmtp = d.fmtp;
      this.inPt[st.index] = pt;
      const url = resolveControl(base, d.control);
      let setup = interleaved ? null : await this.setupUdp(conn, url, st);
      if (setup === null || setup.status === 461) {
        // 461 Unsupported Transport: a server (or a path through a firewall) that only does TCP.
        // Media then comes interleaved on this connection, channels 2i (RTP) and 2i+1 (RTCP).
        interleaved = true;
        const ch = 2 * st.index;
        this.byChannel.set(ch, st);
        setup = await conn.request('SETUP', url, { Transport: `RTP/AVP/TCP;unicast;interleaved=${ch}-${ch + 1}` });
      }
      if (setup.status !== 200) throw new Error(`SETUP answered ${setup.status} ${setup.reason}`);
      const session = setup.headers.get('session');
      if (session !== undefined) {
        const sh = parseSessionHeader(session);
        conn.session = sh.id;
        if (sh.timeoutS !== null) timeoutS = sh.timeoutS;
      }
    }
    if (interleaved) conn.onInterleaved = (channel, data) => {
      const st = this.byChannel.get(channel);
      if (st !== undefined) this.onRtp(st, data);
    };
    this.interleaved = interleaved;
    const play = await conn.request('PLAY', resolveControl(base, undefined), { Range: 'npt=0.000-' });
    if (play.status !== 200) throw new Error(`PLAY answered ${play.status} ${play.reason}`);
    this.connects++;
    this.lastMedia = this.deps.now();
    conn.onClose = () => this.scheduleReconnect('the RTSP connection closed');
    this.keepalive = setInterval(() => {
      conn.request('OPTIONS', this.target.url).catch(() => undefined);
    }, Math.max(1, timeoutS / 2) * 1000);
    const delayMs = this.mp.spec.rtspReconnectDelay * 1000;
    this.watchdog = setInterval(() => {
      if (this.deps.now() - this.lastMedia > delayMs) this.scheduleReconnect(`no media for ${this.mp.spec.rtspReconnectDelay} s`);
    }, Math.max(250, delayMs / 4));
    this.deps.log.info(`streaming: ${this.mp.name} playing ${this.target.url}${interleaved ? ' (RTP interleaved on the RTSP connection)' : ''}`);
  }

  /** SETUP with RTP over UDP to two ports of ours. */
  private async setupUdp(conn: RtspConnection, url: string, st: MpStream): Promise<RtspResponse> {
    const mine: Socket[] = [];
    const rtp = await this.deps.ports.allocate();
    mine.push(rtp.socket);
    setBigReceiveBuffer(rtp.socket);
    let rtcpPort = rtp.port + 1;
    const rtcp = await this.deps.ports.allocate().catch(() => null);
    if (rtcp !== null) {
      mine.push(rtcp.socket);
      rtcpPort = rtcp.port;
    }
    this.sockets.push(...mine);
    this.listen(rtp.socket, st);
    this.ports[st.index] = [rtp.port, 0, 0];
    const res = await conn.request('SETUP', url, { Transport: `RTP/AVP;unicast;client_port=${rtp.port}-${rtcpPort}` });
    if (res.status === 461) {
      // This stream goes interleaved instead: its ports are not needed (the other streams keep theirs).
      for (const s of mine) s.close();
      this.sockets = this.sockets.filter((s) => !mine.includes(s));
      this.ports[st.index] = [0, 0, 0];
    }
    return res;
  }

  private listen(socket: Socket, st: MpStream): void {
    socket.on('error', (err) => this.deps.log.warn(`streaming: ${this.mp.name} RTSP media socket: ${err.message}`));
    socket.on('message', (msg: Buffer) => this.onRtp(st, msg));
  }

  /** One RTP packet of stream `st`, from its UDP socket or interleaved on the RTSP connection. */
  private onRtp(st: MpStream, msg: Buffer): void {
    const deps = this.deps;
    const media = deps.media;
    if (this.closed || media === null || !isRtp(msg, msg.length)) return;
    try {
      const now = deps.now();
      this.lastMedia = now;
      const want = st.spec.pt!;
      if (rtpPayloadType(msg) !== want) msg[1] = (msg[1]! & 0x80) | want;
      deliverRtp(media, st, 0, msg, msg.length, now);
    } catch (err) {
      deps.log.error(`streaming: ${this.mp.name} packet path failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private closeSockets(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.sockets = [];
  }

  /** Drop the current session and try again after rtsp_reconnect_delay (once at a time). */
  scheduleReconnect(why: string): void {
    if (this.closed || this.reconnectTimer !== null) return;
    this.deps.log.warn(`streaming: ${this.mp.name}: ${why}; reconnecting to ${this.target.url} in ${this.mp.spec.rtspReconnectDelay} s`);
    this.teardown();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed) return;
      this.connect().catch((err: Error) => this.scheduleReconnect(`reconnect failed: ${err.message}`));
    }, this.mp.spec.rtspReconnectDelay * 1000);
  }

  private teardown(): void {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.keepalive = null;
    this.watchdog = null;
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.onClose = null;
      conn.request('TEARDOWN', this.target.url).catch(() => undefined).finally(() => conn.close());
    }
    this.closeSockets();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.teardown();
  }
}

/**
 * Start an rtsp mountpoint's source. With rtsp_failcheck a failed first connection rejects;
 * without it the mountpoint exists anyway and keeps trying (then its streams need pt/codec in the config).
 */
export async function openRtspSource(mp: Mountpoint, deps: SourceDeps): Promise<MediaSource> {
  const src = new RtspSource(mp, deps);
  try {
    await src.connect();
  } catch (err) {
    if (mp.spec.rtspFailcheck || mp.streams.some((s) => s.spec.codec === null || s.spec.pt === null)) {
      src.close();
      throw err;
    }
    src.scheduleReconnect(`cannot connect: ${(err as Error).message}`);
  }
  return src;
}
