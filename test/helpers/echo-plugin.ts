/**
 * A minimal echo plugin for core/media tests: it answers the offer with the answer options a test
 * gives per m-line (what to keep: transport-cc, RTX, audio, ...) and relays every RTP packet back
 * on the m-line it came in on. RTCP the core hands it (keyframe requests from the peer, and the
 * core's own ones) is recorded, not relayed, so tests can count them.
 */
import type { Jsep } from '../../src/core/jsep.js';
import { isMediaRelayHost, type Plugin, type PluginHost, type PluginInitContext, type PluginMediaHost, type PluginResult, type PluginSession, type RtpStreamInfo } from '../../src/core/plugin.js';
import { buildAnswer, type AnswerOptions } from '../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import type { MediaSection } from '../../src/media/sdp/types.js';
import { writeSdp } from '../../src/media/sdp/write.js';

export interface EchoPluginOptions {
  /** Package name to attach to (`janus.plugin.<name>`), and the key of its one event (`{<name>: 'ok'}`). */
  name: string;
  /** Answer options for each offered m-line (return `{ accept: false }` to decline it). */
  answer: (m: MediaSection) => AnswerOptions;
}

/** One RTCP compound the core handed the plugin: the m-line it is about (null: unknown) and a copy. */
export interface EchoRtcp {
  mid: string | null;
  bytes: Buffer;
  at: number;
}

export class EchoPlugin implements Plugin {
  readonly package: string;
  readonly name: string;
  readonly author = 'Portunus tests';
  readonly description = 'echo with test-chosen answer options';
  readonly version = 1;
  readonly versionString = '0.0.1';
  host: (PluginHost & PluginMediaHost) | null = null;
  readonly rtcp: EchoRtcp[] = [];

  constructor(private readonly opts: EchoPluginOptions) {
    this.package = `janus.plugin.${opts.name}`;
    this.name = `${opts.name} echo`;
  }

  init(ctx: PluginInitContext): void {
    if (isMediaRelayHost(ctx.host)) this.host = ctx.host;
  }
  destroy(): void {}
  createSession(): void {}
  destroySession(): void {}

  handleMessage(session: PluginSession, transaction: string, _body: Record<string, unknown>, jsep: Jsep | null): PluginResult {
    setImmediate(() => {
      const { description } = buildAnswer(parseSdp(jsep!.sdp), (m) => this.opts.answer(m));
      this.host!.pushEvent(session, transaction, { [this.opts.name]: 'ok' }, { type: 'answer', sdp: writeSdp(description) });
    });
    return { kind: 'wait' };
  }

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    this.host!.relayRtp(session, stream.mid, buf, len);
  }

  incomingRtcp(_session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    this.rtcp.push({ mid: stream?.mid ?? null, bytes: Buffer.from(buf.subarray(0, len)), at: performance.now() });
  }

  /** Keyframe requests (PLI, or FIR) recorded so far, about `mid` if given. */
  keyframeRequests(mid?: string): EchoRtcp[] {
    return this.rtcp.filter((r) => (mid === undefined || r.mid === mid) && hasKeyframeRequest(r.bytes));
  }
}

/** Whether an RTCP compound holds a PLI or FIR (payload-specific feedback, FMT 1 or 4). */
function hasKeyframeRequest(b: Buffer): boolean {
  for (let o = 0; o + 4 <= b.length; o += (b.readUInt16BE(o + 2) + 1) * 4) {
    const fmt = b[o]! & 0x1f;
    if (b[o + 1] === 206 && (fmt === 1 || fmt === 4)) return true;
  }
  return false;
}
