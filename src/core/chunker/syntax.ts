// tree-sitter chunking (in progress): until grammars are wired, every language falls back to line windows.
import type { Def, Pieces } from './engine';

export type LoadedGrammar = { language: string };

export class SyntaxEngine {
  async load(_language: string): Promise<LoadedGrammar | null> {
    return null;
  }
  pieces(_g: LoadedGrammar, _p: Pieces): Def[] {
    return [];
  }
}
