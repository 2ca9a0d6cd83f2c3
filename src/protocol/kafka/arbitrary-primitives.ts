// fast-check arbitraries of Kafka's primitive wire types, used by the generated per-message
// arbitraries in generated/arbitraries.ts. For tests only (fast-check is a dev dependency).

import fc from 'fast-check';

/** Arrays stay short so that three levels of nesting still make small messages. */
const ARRAY_ELEMENTS_MAX = 3;

export const arbitraryInt8 = (): fc.Arbitrary<number> => fc.integer({ min: -0x80, max: 0x7f });
export const arbitraryInt16 = (): fc.Arbitrary<number> => fc.integer({ min: -0x8000, max: 0x7fff });
export const arbitraryUint16 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffff });
export const arbitraryInt32 = (): fc.Arbitrary<number> => fc.integer({ min: -0x80000000, max: 0x7fffffff });
export const arbitraryUint32 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffffffff });
export const arbitraryInt64 = (): fc.Arbitrary<bigint> => fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
export const arbitraryFloat64 = (): fc.Arbitrary<number> => fc.double();
/** Well-formed Unicode (lone surrogates cannot survive UTF-8), including multi-byte characters. */
export const arbitraryString = (): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength: 6 });
export const arbitraryBytes = (): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: 8 });
export const arbitraryUuid = (): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 16, maxLength: 16 });

export function arbitraryArray<T>(element: fc.Arbitrary<T>): fc.Arbitrary<T[]> {
  return fc.array(element, { maxLength: ARRAY_ELEMENTS_MAX });
}

export function nullable<T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.option(value, { nil: null });
}
