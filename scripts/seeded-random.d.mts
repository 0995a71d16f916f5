/** mulberry32: a seeded generator of floats in [0, 1) (scripts/seeded-random.mjs). */
export declare function seededRandom(seed: number): () => number;
