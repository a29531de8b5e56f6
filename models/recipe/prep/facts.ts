// The tree-sitter facts live in the product (src/core/facts.ts) so that `e2code eval` builds its
// questions from exactly what the recipe trains on; re-exported here for the prep scripts.
export * from '../../../src/core/facts';
