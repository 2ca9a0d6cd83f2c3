// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so generated histories and the
// checker's hash keys are reproducible from one integer seed. Not cryptographic. A shared PRNG in
// src/sim may replace it; this one exists because check/ cannot import from sim/ (layering).

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number;
}

export function createPrng(seed: number): Prng {
  let splitState = seed >>> 0;
  const splitmix32 = (): number => {
    splitState = (splitState + 0x9e3779b9) >>> 0;
    let z = splitState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const state = new Uint32Array([splitmix32(), splitmix32(), splitmix32(), splitmix32()]);
  const nextUint32 = (): number => {
    const result = Math.imul(rotateLeft(Math.imul(state[1], 5), 7), 9) >>> 0;
    const shifted = state[1] << 9;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = rotateLeft(state[3], 11);
    return result;
  };
  return {
    nextUint32,
    next: () => nextUint32() / 2 ** 32,
    nextInt: (maxExclusive) => Math.floor((nextUint32() / 2 ** 32) * maxExclusive),
  };
}

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}
