/** A JSEP object as it travels over the Janus API (`jsep` next to `body`). */
export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  /** false when the client said it will not trickle (half-trickle is the default). */
  trickle?: boolean;
  /** Set by the core on a renegotiation before handing the JSEP to a plugin. */
  update?: boolean;
  /** ICE restart requested by the offer (set by the core when the ufrag changed). */
  restart?: boolean;
  e2ee?: boolean;
  rid_order?: 'hml' | 'lmh';
  force_relay?: boolean;
  svc?: unknown[];
}
