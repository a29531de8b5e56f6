/**
 * The lexical side of retrieval: BM25+ (minisearch) over chunks, keyed by chunk content hash.
 *
 * Three fields per chunk: its path, its symbol names (boosted: a chunk that defines a name beats one
 * that mentions it) and its text (code and comments). All three are tokenised by splitIdentifiers, so
 * `refreshPaths` is found by "refresh paths", "refreshPaths" and "paths". Queries drop common English
 * words ("how do I ... ?"), unless nothing else is left.
 *
 * Removal uses minisearch's discard: the text of a removed chunk is usually gone by then, so its terms
 * are unknown. A discarded document's postings stay until minisearch's background vacuum, or until a
 * search meets them (it drops them then, but scores the documents it met before them with a document
 * frequency that still counts them). So while discarded documents remain, search runs twice: the first
 * pass clears the query terms' postings, the second scores exactly; the same question gets the same
 * ranking however the index got to its state. (A synchronous full vacuum per removal cost ~300 ms on a
 * 6,000-chunk index; the extra pass costs about a millisecond.)
 *
 * Terms are matched exactly after plural folding (foldPlural). Measured on a proxy (a def's doc
 * comment, first sentence, as the query; the def's chunk, comment removed, as the target): over 15,872
 * chunks of node_modules sources (3,267 queries) folding took top-3 from 0.408 to 0.442 (MRR 0.358 to
 * 0.378); over this repository (380 queries) MRR 0.285 to 0.289. Prefix search lowered both (MRR
 * 0.342 on node_modules); fuzzy (0.2) gained less than folding (top-3 0.438) at several times the
 * search cost: both left out.
 */
import MiniSearch, { type Options, type SearchOptions } from 'minisearch';

export interface LexicalDoc {
  /** Chunk content hash: the document id. */
  hash: string;
  path: string;
  /** Names the chunk defines. */
  symbols: string[];
  /** Enclosing symbol path, e.g. `class Foo > method bar` (the kind words are not indexed). */
  symbolPath: string;
  /** Code and comments. */
  text: string;
}

export interface LexicalHit {
  hash: string;
  score: number;
}

/** Bumped whenever tokenisation or fields change: a stored index of another format is rebuilt. */
export const LEXICAL_FORMAT = 2;

const FIELDS = ['path', 'symbols', 'text'] as const;
type Field = (typeof FIELDS)[number];

/**
 * Field boosts: defining a name counts for several mentions of it. Chosen on the proxy of the file
 * comment: symbols 4 beat 2 (MRR 0.358 against 0.351 on node_modules) and equalled 8 on this
 * repository; a path boost of 1.5 or 3 did worse than none.
 */
const BOOST: Record<Field, number> = { path: 1, symbols: 4, text: 1 };

/** Longer tokens are blobs (base64, hashes): left out of the vocabulary. */
const MAX_TOKEN = 64;

/** An identifier, kebab-case runs included (`add-subcommand`; `--no-hybrid` without the dashes). */
const WORD = /[\p{L}\p{N}_$]+(?:-[\p{L}\p{N}_$]+)*/gu;
/** Parts of an identifier: `HTTPServer` -> HTTP, Server; `utf8Decode` -> utf, 8, Decode; `_`, `$`, `-` separate. */
const PART = /\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{N}+|[\p{Lt}\p{Lm}\p{Lo}]+/gu;
// ASCII twins of the two: most code is ASCII, and these run about three times faster.
const WORD_ASCII = /[A-Za-z0-9_$]+(?:-[A-Za-z0-9_$]+)*/g;
const PART_ASCII = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;
const NON_ASCII = /[^\x00-\x7f]/;
const LOWER_WORD = /^[a-z]+$/;
const EDGE_SEPARATORS = /^[_$-]+|[_$-]+$/g;

const DIGITS = /^[0-9]+$/;

/**
 * The digits after a decimal point (`0.8734`): in data and measurements they are most of the
 * vocabulary (43% of the distinct tokens in this repository) and nobody searches for them.
 */
function isFraction(text: string, at: number, word: string): boolean {
  if (at < 2 || text.charCodeAt(at - 1) !== 46 /* . */) return false;
  const before = text.charCodeAt(at - 2);
  return before >= 48 && before <= 57 && DIGITS.test(word);
}

function keep(token: string): boolean {
  return token.length > 1 && token.length <= MAX_TOKEN;
}

/**
 * Lower-cased tokens of `text`: each identifier whole (leading/trailing `_`/`$` trimmed) and, when it
 * has several, its parts split at camelCase / PascalCase / snake_case / kebab-case / digit boundaries.
 * One-character tokens and the digits after a decimal point are dropped. Order follows the text; repeats are kept (they are term frequency).
 */
export function splitIdentifiers(text: string): string[] {
  const ascii = !NON_ASCII.test(text);
  const wordRe = ascii ? WORD_ASCII : WORD;
  const partRe = ascii ? PART_ASCII : PART;
  const out: string[] = [];
  wordRe.lastIndex = 0;
  for (let m = wordRe.exec(text); m; m = wordRe.exec(text)) {
    const word = m[0];
    if (isFraction(text, m.index, word)) continue;
    if (LOWER_WORD.test(word)) {
      if (keep(word)) out.push(word);
      continue;
    }
    const whole = word.replace(EDGE_SEPARATORS, '').toLowerCase();
    if (keep(whole)) out.push(whole);
    const parts = word.match(partRe);
    if (parts && parts.length > 1) for (const p of parts) if (keep(p)) out.push(p.toLowerCase());
  }
  return out;
}

/**
 * Words that carry no meaning in a question about code ("How do I add a subcommand?", "Where is X
 * defined?"). Only queries drop them: indexed text keeps every word, since `is`, `do` and `find` are
 * also identifiers and keywords.
 */
const STOP_WORDS = new Set(
  (
    'a about after all also am an and any are as at be been before being but by can could did do does doing done ' +
    'each for from had has have having he her here hers him his how i if in into is it its itself just me might ' +
    'must my no nor not now of off on once only or other our ours out over own same she should so some such ' +
    'than that the their theirs them then there these they this those through to too under until up very was ' +
    'we were what when where which while who whom whose why will with would you your yours ' +
    'defined define defines definition declared declare implemented implement located locate find show tell ' +
    'explain happens happen work works get gets use used using please code codebase file files function ' +
    'functions method methods thing things way'
  ).split(' '),
);

/**
 * English plurals to their singular, the same way for indexed and query terms (`subcommands` finds
 * `add_subcommand`, `entries` finds `entry`): `-ies` to `-y`, a final `s` dropped except after s, u
 * or i (`class`, `status`, `this`). Not a stemmer: the other suffixes stay.
 */
export function foldPlural(term: string): string {
  const n = term.length;
  if (n > 4 && term.endsWith('ies')) return `${term.slice(0, -3)}y`;
  if (n > 3 && term.charCodeAt(n - 1) === 115 /* s */) {
    const before = term.charCodeAt(n - 2);
    if (before !== 115 && before !== 117 && before !== 105 /* s u i */) return term.slice(0, -1);
  }
  return term;
}

/** Query terms: split like indexed text, common words dropped unless they are all there is, folded. */
function queryTerms(query: string): string[] {
  const all = splitIdentifiers(query);
  const kept = all.filter((t) => !STOP_WORDS.has(t));
  return [...new Set((kept.length ? kept : all).map(foldPlural))];
}

/** `class Foo > method bar` -> `Foo bar`: the kind words would match every class and method. */
function symbolPathNames(symbolPath: string): string {
  return symbolPath
    .split(' > ')
    .map((seg) => {
      const sp = seg.indexOf(' ');
      return sp < 0 ? seg : seg.slice(sp + 1);
    })
    .join(' ');
}

function fieldOf(doc: LexicalDoc, field: string): string {
  switch (field) {
    case 'id':
      return doc.hash;
    case 'path':
      return doc.path;
    case 'symbols':
      return `${doc.symbols.join(' ')} ${symbolPathNames(doc.symbolPath)}`;
    case 'text':
      return doc.text;
    default:
      return '';
  }
}

// splitIdentifiers lower-cases already; processTerm folds plurals. The same options must be given to
// loadJSON.
const OPTIONS: Options<LexicalDoc> = {
  idField: 'id',
  fields: [...FIELDS],
  storeFields: [],
  extractField: fieldOf,
  tokenize: splitIdentifiers,
  processTerm: foldPlural,
};

const SEARCH: SearchOptions = {
  boost: BOOST,
  combineWith: 'OR',
  // The query is tokenised and folded by queryTerms already.
  tokenize: (q) => q.split(' '),
  processTerm: (t) => t,
};

type StoredIndex = Parameters<typeof MiniSearch.loadJS>[0];

function parseStored(json: string): { js: StoredIndex; hashes: string[] } {
  const parsed = JSON.parse(json) as { format?: unknown; index?: { documentIds?: Record<string, string> } };
  if (parsed?.format !== LEXICAL_FORMAT) throw new Error(`lexical index format ${String(parsed?.format)}, expected ${LEXICAL_FORMAT}`);
  const ids = parsed.index?.documentIds;
  if (!ids || typeof ids !== 'object') throw new Error('lexical index has no document ids');
  return { js: parsed.index as StoredIndex, hashes: Object.values(ids) };
}

/** Scores are rounded so that equal rankings do not depend on the order documents were added in. */
const SCORE_DIGITS = 1e6;

export class LexicalIndex {
  /** Hashes of the documents in `mini` (minisearch does not list its ids). */
  private readonly hashes: Set<string>;

  private constructor(
    private readonly mini: MiniSearch<LexicalDoc>,
    hashes: Iterable<string>,
  ) {
    this.hashes = new Set(hashes);
  }

  static empty(): LexicalIndex {
    return new LexicalIndex(new MiniSearch(OPTIONS), []);
  }

  /** Reads what toJSON wrote; throws on anything else (the caller rebuilds). */
  static fromJSON(json: string): LexicalIndex {
    const { js, hashes } = parseStored(json);
    return LexicalIndex.checked(MiniSearch.loadJS(js, OPTIONS), hashes);
  }

  /** fromJSON that yields to the event loop while it rebuilds the index (a large one takes seconds). */
  static async fromJSONAsync(json: string): Promise<LexicalIndex> {
    const { js, hashes } = parseStored(json);
    return LexicalIndex.checked(await MiniSearch.loadJSAsync(js, OPTIONS), hashes);
  }

  private static checked(mini: MiniSearch<LexicalDoc>, hashes: string[]): LexicalIndex {
    if (mini.documentCount !== hashes.length) throw new Error('lexical index document count does not match its ids');
    return new LexicalIndex(mini, hashes);
  }

  get size(): number {
    return this.hashes.size;
  }

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  /** All document hashes (no particular order). */
  keys(): IterableIterator<string> {
    return this.hashes.keys();
  }

  /** Adds documents; a hash already present (identical chunks) is kept once, as first added. */
  add(docs: readonly LexicalDoc[]): void {
    for (const d of docs) {
      if (this.hashes.has(d.hash)) continue;
      this.mini.add(d);
      this.hashes.add(d.hash);
    }
  }

  /** Removes documents by hash; unknown hashes are ignored. */
  remove(hashes: Iterable<string>): void {
    const gone: string[] = [];
    for (const h of hashes) if (this.hashes.delete(h)) gone.push(h);
    if (!gone.length) return;
    this.mini.discardAll(gone);
  }

  /** Best first; ties by hash, so the order is the same however the index was built. */
  search(query: string, limit = 20): LexicalHit[] {
    const terms = queryTerms(query);
    if (!terms.length || limit <= 0) return [];
    const q = terms.join(' ');
    if (this.mini.dirtCount > 0) this.mini.search(q, SEARCH); // see the file comment
    const hits = this.mini
      .search(q, SEARCH)
      .map((r) => ({ hash: r.id as string, score: Math.round(r.score * SCORE_DIGITS) / SCORE_DIGITS }));
    hits.sort((a, b) => b.score - a.score || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    return hits.slice(0, limit);
  }

  toJSON(): string {
    return JSON.stringify({ format: LEXICAL_FORMAT, index: this.mini });
  }
}
