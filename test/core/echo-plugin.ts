/**
 * A tiny plugin for exercising the core: answers synchronously, asynchronously (ack + pushEvent),
 * with failures, and with JSEPs, depending on `body.request`.
 */
import type { Jsep } from '../../src/core/jsep.js';
import type { Plugin, PluginHost, PluginInitContext, PluginResult, PluginSession } from '../../src/core/plugin.js';

export const ECHO_PKG = 'janus.plugin.testecho';

export class EchoPlugin implements Plugin {
  readonly package: string = ECHO_PKG;
  readonly name = 'Test echo plugin';
  readonly author = 'tests';
  readonly description = 'Echoes requests back';
  readonly version = 1;
  readonly versionString = '0.0.1';
  host!: PluginHost;
  created = 0;
  destroyed = 0;
  hungUp = 0;
  setup = 0;
  initialized = false;
  shutDown = false;
  refuseAttach = false;
  lastJsep: Jsep | null = null;
  live = new Set<PluginSession>();

  constructor(pkg?: string) {
    if (pkg) this.package = pkg;
  }

  init(ctx: PluginInitContext): void {
    this.host = ctx.host;
    this.initialized = true;
  }
  destroy(): void {
    this.shutDown = true;
  }
  createSession(session: PluginSession): void {
    if (this.refuseAttach) throw new Error('refused');
    session.state = { calls: 0 };
    this.created++;
    this.live.add(session);
  }
  destroySession(session: PluginSession): void {
    this.destroyed++;
    this.live.delete(session);
  }
  hangupMedia(): void {
    this.hungUp++;
  }
  setupMedia(): void {
    this.setup++;
  }
  querySession(session: PluginSession): Record<string, unknown> {
    return { calls: (session.state as { calls: number }).calls };
  }
  handleAdminMessage(body: Record<string, unknown>): Record<string, unknown> {
    return { echo: body };
  }

  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): PluginResult | Promise<PluginResult> {
    (session.state as { calls: number }).calls++;
    this.lastJsep = jsep;
    switch (body.request) {
      case 'sync':
        return { kind: 'ok', data: { echo: body } };
      case 'async':
        setTimeout(() => {
          const answer: Jsep | undefined = jsep?.type === 'offer' ? { type: 'answer', sdp: jsep.sdp } : undefined;
          this.host.pushEvent(session, transaction, { result: 'done' }, answer);
        }, 5);
        return { kind: 'wait', hint: 'later' };
      case 'push-now':
        // Pushed before the ack exists: the core must still send the ack first.
        this.host.pushEvent(session, transaction, { result: 'early' });
        return { kind: 'wait' };
      case 'offer':
        return { kind: 'ok', data: { offered: true }, jsep: { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n' } };
      case 'error':
        return { kind: 'error', reason: 'plugin says no' };
      case 'throw':
        throw new Error('plugin exploded');
      case 'slow':
        return new Promise((resolve) => setTimeout(() => resolve({ kind: 'ok', data: { slow: true } }), 20));
      case 'close-pc':
        this.host.closePeerConnection(session, 'plugin closed');
        return { kind: 'ok', data: {} };
      case 'end':
        setImmediate(() => this.host.endSession(session));
        return { kind: 'ok', data: {} };
      default:
        return { kind: 'ok', data: { testecho: 'event', error_code: 499, error: 'Unknown request' } };
    }
  }
}

export const OFFER_SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';
