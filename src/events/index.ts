/** Event handlers from configuration: which backends run, given janus.jcfg `events` and their own files. */
import type { JanusConfig, SampleEvhConfig, WsEvhConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { EventBus } from './bus.js';
import { SampleEventHandler } from './sampleevh.js';
import type { EventHandler } from './types.js';
import { WsEventHandler } from './wsevh.js';

export { EventBus } from './bus.js';
export { EventType, eventMask } from './types.js';

/** Janus names a handler in events.disable by library or package. */
function disabled(list: string[], lib: string, pkg: string): boolean {
  return list.some((d) => {
    const x = d.trim();
    return x === lib || x === pkg;
  });
}

/**
 * The bus, or null when event handlers are off (events.broadcast false, or no backend enabled): the
 * core then builds no event at all. Problems an operator must hear about are logged, never thrown.
 */
export function createEventBus(janus: JanusConfig, files: { sampleevh: SampleEvhConfig; wsevh: WsEvhConfig }, log: Logger): EventBus | null {
  const ev = janus.events;
  const wanted = files.sampleevh.enabled || files.wsevh.enabled;
  if (!ev.broadcast) {
    if (wanted) log.warn('an event handler is enabled but janus.jcfg events.broadcast is false: no events are sent (as in Janus)');
    return null;
  }
  const handlers: EventHandler[] = [];
  const s = files.sampleevh;
  if (s.enabled && !disabled(ev.disable, 'libjanus_sampleevh.so', 'janus.eventhandler.sampleevh')) {
    if (s.backend === null) log.warn(`${s.file ?? 'janus.eventhandler.sampleevh.jcfg'}: general.backend: missing; the sample event handler is not loaded (as in Janus)`);
    else handlers.push(new SampleEventHandler({ ...s, backend: s.backend }, { log: log.child({ evh: 'sampleevh' }) }));
  }
  const w = files.wsevh;
  if (w.enabled && !disabled(ev.disable, 'libjanus_wsevh.so', 'janus.eventhandler.wsevh')) {
    if (w.backend === null) log.warn(`${w.file ?? 'janus.eventhandler.wsevh.jcfg'}: general.backend: missing; the WebSockets event handler is not loaded (as in Janus)`);
    else handlers.push(new WsEventHandler({ ...w, backend: w.backend }, { log: log.child({ evh: 'wsevh' }) }));
  }
  if (handlers.length === 0) return null;
  return new EventBus(janus.general.server_name, handlers, log, ev.stats_period, ev.combine_media_stats);
}
