"""Spelling correction for the semantic side of a hybrid search.

A static embedding of "cordles dril" is noise: neither word is in its vocabulary, so their sub-word
pieces stand in. Before embedding, a word that is neither a catalog word nor an English word is
replaced by the nearest catalog word (the BM25 index's typo tolerance finds it). English words are
never touched ("loo", "slamming" keep their meaning even though the catalog does not use them):
the dictionary is the whole words of MiniLM's WordPiece vocabulary (~20,000 words), which ships with
the package.
"""

from __future__ import annotations

import functools
import json
import re

from zava_core.embeddings.onnx_minilm import TOKENIZER_PATH
from zava_core.retail.lexical import LexicalIndex


@functools.cache
def dictionary_words() -> frozenset[str]:
    vocab = json.loads(TOKENIZER_PATH.read_text())["model"]["vocab"]
    return frozenset(token for token in vocab if token.isalpha() and not token.startswith("##"))


def corrected_query(index: LexicalIndex, text: str) -> str:
    """The query with its misspelt words replaced (unchanged when none is)."""
    words = dictionary_words()
    fixes = {typed: fixed for typed, fixed in index.spelling_fixes(text).items() if typed not in words}
    if not fixes:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(fixes, key=len, reverse=True)) + r")\b", re.I)
    return pattern.sub(lambda m: fixes[m.group(0).lower()], text)
