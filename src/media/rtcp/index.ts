export * from './header.js';
export * from './ntp.js';
export * from './report.js';
export * from './sdes.js';
export * from './feedback.js';
export * from './twcc.js';
