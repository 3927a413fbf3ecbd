/** A JSEP object as it travels over the Janus API (`jsep` next to `body`). */
export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  /** false when the client said it will not trickle (half-trickle is the default). */
  trickle?: boolean;
  /** Set by the core on a renegotiation before handing the JSEP to a plugin. */
  update?: boolean;
  /**
   * ICE restart. On a client offer: set by the core when the ufrag changed. On a plugin offer: the
   * plugin asks the media plane for new ICE credentials (not sent to the client).
   */
  restart?: boolean;
  e2ee?: boolean;
  rid_order?: 'hml' | 'lmh';
  force_relay?: boolean;
  svc?: unknown[];
}
