export * from './candidate.js';
export * from './agent.js';
