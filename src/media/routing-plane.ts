/**
 * One MediaPlane for the core, several behind it: the handles of a plugin that runs in a media worker
 * (src/workers) have their PeerConnections in that worker, every other handle in the main plane.
 * The choice is the handle's plugin package, so it is made once per call with one Map lookup.
 */
import type { Jsep } from '../core/jsep.js';
import type { MediaEvents, MediaHandle, MediaPlane, MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import { sumPlaneMetrics } from '../metrics/media.js';

export class RoutingMediaPlane implements MediaPlane {
  private readonly routes = new Map<string, MediaPlane>();
  private events: MediaEvents | null = null;

  constructor(readonly main: MediaPlane) {}

  /** Handles of `pluginPackage` go to `plane` from now on. */
  route(pluginPackage: string, plane: MediaPlane): void {
    this.routes.set(pluginPackage, plane);
    if (this.events) plane.attach(this.events);
  }

  unroute(pluginPackage: string): void {
    this.routes.delete(pluginPackage);
  }

  private planeOf(h: MediaHandle): MediaPlane {
    return this.routes.get(h.pluginPackage) ?? this.main;
  }

  /** The routed planes, each once (the worker pool's serves several plugins). */
  private planes(): MediaPlane[] {
    return [...new Set(this.routes.values())];
  }

  attach(events: MediaEvents): void {
    this.events = events;
    this.main.attach(events);
    for (const p of this.planes()) p.attach(events);
  }
  remoteJsep(h: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep> {
    return this.planeOf(h).remoteJsep(h, jsep);
  }
  localJsep(h: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep> {
    return this.planeOf(h).localJsep(h, jsep);
  }
  trickle(h: MediaHandle, candidates: TrickleCandidate[]): void {
    this.planeOf(h).trickle(h, candidates);
  }
  hangup(h: MediaHandle, reason: string): void {
    this.planeOf(h).hangup(h, reason);
  }
  release(h: MediaHandle): void {
    this.planeOf(h).release(h);
  }
  relayRtp(h: MediaHandle, mid: string, buf: Buffer, len: number): void {
    this.planeOf(h).relayRtp?.(h, mid, buf, len);
  }
  relayRtcp(h: MediaHandle, mid: string | null, buf: Buffer, len: number): void {
    this.planeOf(h).relayRtcp?.(h, mid, buf, len);
  }
  relayData(h: MediaHandle, label: string | null, data: string | Buffer): void {
    this.planeOf(h).relayData?.(h, label, data);
  }
  sendPli(h: MediaHandle, mid: string | null): void {
    this.planeOf(h).sendPli?.(h, mid);
  }
  sendRemb(h: MediaHandle, bitrate: number): void {
    this.planeOf(h).sendRemb?.(h, bitrate);
  }
  bandwidthEstimate(h: MediaHandle, wantedBps?: number): number {
    return this.planeOf(h).bandwidthEstimate?.(h, wantedBps) ?? 0;
  }
  sendQueueMs(h: MediaHandle): number {
    return this.planeOf(h).sendQueueMs?.(h) ?? 0;
  }
  handleInfo(h: MediaHandle): Record<string, unknown> | null | Promise<Record<string, unknown> | null> {
    return this.planeOf(h).handleInfo?.(h) ?? null;
  }
  async close(): Promise<void> {
    await Promise.allSettled([this.main.close?.(), ...this.planes().map((p) => p.close?.())]);
  }

  /** Every plane's metrics added up (a plane without metrics() counts as nothing). */
  metrics(): MediaPlaneMetrics {
    const parts: MediaPlaneMetrics[] = [];
    for (const p of [this.main, ...this.planes()]) {
      try {
        if (p.metrics) parts.push(p.metrics());
      } catch {
        /* a plane that cannot report counts as nothing */
      }
    }
    return sumPlaneMetrics(parts);
  }
}
