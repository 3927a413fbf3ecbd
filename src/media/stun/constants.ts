/**
 * STUN constants (RFC 8489 / RFC 5389, ICE attributes from RFC 8445, NOMINATION from
 * draft-thatcher-ice-renomination).
 */

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const FINGERPRINT_XOR = 0x5354554e;

/** STUN message classes (already positioned in the 14-bit type: C1 at bit 8, C0 at bit 4). */
export const StunClass = {
  Request: 0x0000,
  Indication: 0x0010,
  SuccessResponse: 0x0100,
  ErrorResponse: 0x0110,
} as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

export const StunMethod = {
  Binding: 0x0001,
} as const;

/** Full message types for the Binding method. */
export const StunMessageType = {
  BindingRequest: 0x0001,
  BindingIndication: 0x0011,
  BindingSuccess: 0x0101,
  BindingError: 0x0111,
} as const;

export const StunAttr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
  Nomination: 0xc001,
} as const;

/** Attributes this codec understands; any other comprehension-required one (< 0x8000) is "unknown". */
const KNOWN = new Set<number>(Object.values(StunAttr));
export function isKnownAttribute(type: number): boolean {
  return KNOWN.has(type);
}

/** Extract the class bits from a message type. */
export function stunClassOf(type: number): StunClass {
  return (type & 0x0110) as StunClass;
}

/** Extract the method (12 bits) from a message type. */
export function stunMethodOf(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
}

/** Compose a message type from method and class. */
export function stunType(method: number, cls: StunClass): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | cls;
}

export const StunErrorCode = {
  TryAlternate: 300,
  BadRequest: 400,
  Unauthorized: 401,
  UnknownAttribute: 420,
  StaleNonce: 438,
  RoleConflict: 487,
  ServerError: 500,
} as const;

export const DEFAULT_REASONS: Readonly<Record<number, string>> = {
  300: 'Try Alternate',
  400: 'Bad Request',
  401: 'Unauthorized',
  420: 'Unknown Attribute',
  438: 'Stale Nonce',
  487: 'Role Conflict',
  500: 'Server Error',
};
