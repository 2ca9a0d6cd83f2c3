// Compatibility path: the core's types live in ../types.ts so every core sub-layer can use them.
// Code outside the core should import from src/core/index.ts.
export * from '../types.ts';
