"""Reads a JSON list of texts on stdin, writes the Python HF tokenizers ids (and decodes) as JSON: for the
TypeScript parity test (test/recipe/tokenizer-parity.test.ts)."""

import json
import sys

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
texts = json.load(sys.stdin)
ids = [tok.encode(t).ids for t in texts]
json.dump({"ids": ids, "decoded": [tok.decode(i, skip_special_tokens=False) for i in ids]}, sys.stdout)
