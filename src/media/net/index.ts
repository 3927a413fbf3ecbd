export * from './demux.js';
export * from './port-allocator.js';
export * from './interfaces.js';
export * from './nat.js';
export * from './stun-client.js';
export * from './udp-ice-driver.js';
