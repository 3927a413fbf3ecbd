/**
 * The loop every differential test runs: start the real Janus 1.1.2 on a generated configs folder,
 * run the script against it, stop it; then the same for Portunus; hand back both transcripts for
 * diffTranscripts (shape-diff.ts). One gateway at a time, so the two never share the machine's ports
 * or CPU while answering.
 */
import { existsSync } from 'node:fs';
import { startMediaGateway, type DemoPlugin, type GatewayKind, type MediaGateway, type PluginConfigOverrides } from './media-server.js';
import type { Step } from './shape-diff.js';

/** Debian's janus: differential tests skip themselves without it. */
export const JANUS_BIN = '/usr/bin/janus';
export const haveJanus = (): boolean => existsSync(JANUS_BIN);

export interface Transcripts {
  janus: Step[];
  portunus: Step[];
}

export interface DifferentialOptions {
  /** The demo plugins the configs folder enables (startMediaGateway). */
  plugins: DemoPlugin[];
  /** Plugin jcfg texts, the same for both gateways, or per gateway. */
  overrides?: PluginConfigOverrides | ((kind: GatewayKind) => PluginConfigOverrides);
  /** Name prefix of the configs folder. */
  prefix?: string;
  /** The script: requests against one running gateway, as transcript steps. */
  script: (gw: MediaGateway, kind: GatewayKind) => Promise<Step[]>;
  /**
   * Whether Janus's transcript can serve as the reference (e.g. Janus did not hang a call up by itself
   * halfway); one that cannot is run again, up to `janusAttempts` times in all (default 1).
   */
  usable?: (steps: Step[]) => boolean;
  janusAttempts?: number;
  /** An environment variable that, when set, prints both transcripts. */
  dumpEnv?: string;
  /** Called once per gateway after it stopped (per-run folders to remove). */
  cleanup?: (kind: GatewayKind) => void;
}

async function once(kind: GatewayKind, o: DifferentialOptions): Promise<Step[]> {
  const overrides = typeof o.overrides === 'function' ? o.overrides(kind) : (o.overrides ?? {});
  try {
    const gw = await startMediaGateway(kind, o.plugins, overrides, o.prefix !== undefined ? { prefix: o.prefix } : {});
    try {
      return await o.script(gw, kind);
    } finally {
      await gw.stop();
    }
  } finally {
    o.cleanup?.(kind);
  }
}

/** Janus first, then Portunus, each started on its own configs folder and stopped after its script. */
export async function collectTranscripts(o: DifferentialOptions): Promise<Transcripts> {
  let janus: Step[] = [];
  const attempts = o.janusAttempts ?? 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    janus = await once('janus', o);
    if (o.usable === undefined || o.usable(janus)) break;
    if (attempt < attempts) console.log(`# ${o.prefix ?? o.plugins.join('+')} janus: attempt ${attempt}: its transcript cannot serve as the reference; running it again`);
  }
  const portunus = await once('portunus', o);
  if (o.dumpEnv !== undefined && process.env[o.dumpEnv]) console.log(JSON.stringify({ janus, portunus }, null, 1));
  return { janus, portunus };
}
