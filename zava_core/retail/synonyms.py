"""Synonym mappings in memory: Atlas Search's `equivalent` and `explicit` mappings applied to a BM25 query.

The mappings live in the `search_synonyms` collection, in Atlas Search's synonym-source format (seeded from
`seeding/catalog/synonyms.json`, editable by operators; `zava_core.model.SynonymMapping`). Here they are
compiled once per version of the collection into a table keyed by analysed words, the same analysis BM25
uses (`lexical.tokenize`: lower case, stopwords dropped, light stemming), so "my toilet keeps running"
meets the input "toilet keeps running".

What a match does (the in-memory counterpart of `$search`'s `synonyms` option):
- `equivalent`: a query that contains one of the synonyms searches all of them as one group;
- `explicit`: a query that contains one of the inputs also searches each of the synonyms.
A phrase matches where its words appear in the query in order, with at most `MAX_GAP` other words
between two of them (Atlas matches synonyms only on adjacent words: the in-memory side is more lenient).
What a mapping adds to a query is one more BM25 group: a product scores its best-matching synonym
phrase (every word of the phrase in its name and type, or failing any such product, anywhere in its
document), times `SYNONYM_WEIGHT`. The query's own words keep their full
weight, as they do on Atlas, where the words and their synonyms are two `should` clauses.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from zava_core.model.documents import SynonymMapping
from zava_core.retail.lexical import LexicalIndex, tokenize

# What one synonym phrase counts against the query's own words. Chosen a priori (a synonym is a guess at
# what the shopper meant, so less than what they typed); docs/search.md reports it against the train half.
SYNONYM_WEIGHT = 0.8
MAX_GAP = 2  # words a shopper may put between two words of an input ("drill into a concrete wall")
log = logging.getLogger(__name__)

Phrase = tuple[str, ...]  # analysed words


@dataclass(frozen=True)
class Expansion:
    """What one mapping adds to a query: the phrases it searches, and the product type it was written for."""

    mapping_id: str
    phrases: tuple[Phrase, ...]
    product_type: str | None
    texts: tuple[str, ...] = ()  # the phrases as written in the mapping


@dataclass(frozen=True)
class _Rule:
    trigger: Phrase
    mapping: int  # index into the table's mappings
    adds: tuple[Phrase, ...]
    texts: tuple[str, ...]


class SynonymTable:
    """Compiled mappings: `expansions(terms)` lists what a query's analysed words trigger."""

    def __init__(self, mappings: Iterable[SynonymMapping]) -> None:
        self.mappings = list(mappings)
        self._rules: dict[str, list[_Rule]] = defaultdict(list)  # first word of a trigger -> rules
        for index, mapping in enumerate(self.mappings):
            written = {_phrase(s): s for s in mapping.synonyms if _phrase(s)}
            if mapping.mappingType == "equivalent":
                for trigger in written:  # every name of the group is searched, the one typed included, so the
                    if _specific(written[trigger]):  # products named either way gain alike (as in Lucene)
                        self._add(_Rule(trigger, index, tuple(written), tuple(written.values())))
            else:
                for trigger in dict.fromkeys(_phrase(s) for s in mapping.input or () if _specific(s)):
                    self._add(_Rule(trigger, index, tuple(written), tuple(written.values())))

    def _add(self, rule: _Rule) -> None:
        if rule.adds:
            self._rules[rule.trigger[0]].append(rule)

    def __len__(self) -> int:
        return len(self.mappings)

    def expansions(self, *term_sequences: list[str]) -> list[Expansion]:
        """The mappings a query triggers, each once, in the order first matched; `term_sequences` are readings
        of the same query (as typed, and with misspellings corrected)."""
        found: dict[int, dict[Phrase, str]] = {}
        for terms in term_sequences:
            for start, word in enumerate(terms):
                for rule in self._rules.get(word, ()):
                    if _occurs_at(terms, start, rule.trigger):
                        found.setdefault(rule.mapping, {}).update(zip(rule.adds, rule.texts, strict=True))
        return [Expansion(self.mappings[i].id, tuple(sorted(added)), self.mappings[i].product_type,
                          tuple(added[p] for p in sorted(added))) for i, added in found.items()]


def _occurs_at(terms: list[str], start: int, trigger: Phrase) -> bool:
    """Whether `trigger` starts at `terms[start]`, its words in order with at most `MAX_GAP` other words
    between two of them ("pull out old nails" holds "pull nails")."""
    position = start
    for word in trigger[1:]:
        window = terms[position + 1:position + 2 + MAX_GAP]
        if word not in window:
            return False
        position += 1 + window.index(word)
    return True


def _specific(text: str) -> bool:
    """Whether a phrase still says something once stopwords go: "by the door" becomes just "door" and would fire
    on any door, so a phrase of several words that analyses to one word (or none) triggers nothing."""
    phrase = _phrase(text)
    return bool(phrase) and (len(phrase) > 1 or len(text.split()) == 1)


def _phrase(text: str) -> Phrase:
    return tuple(tokenize(text))


def table_from_documents(documents: Iterable[Mapping]) -> SynonymTable:
    """A table from the collection's documents; a document that is not a valid mapping is skipped and logged
    (on Atlas one invalid document fails the whole mapping: `python -m seeding synonyms --check` finds them)."""
    valid, invalid = [], []
    for document in documents:
        try:
            valid.append(SynonymMapping.model_validate({**document, "_id": str(document.get("_id"))}))
        except ValidationError as exc:
            invalid.append(f"{document.get('_id')}: {exc.errors()[0]['msg']}")
    if invalid:
        log.warning("%d synonym mapping(s) skipped as invalid, e.g. %s", len(invalid), invalid[0])
    return SynonymTable(valid)


EMPTY = SynonymTable(())


@dataclass(frozen=True)
class WordScores:
    """The word side of a search: BM25 per product (synonyms included), what the synonyms added, and the
    mappings that fired."""

    total: np.ndarray
    from_synonyms: np.ndarray
    expansions: list[Expansion]


def word_scores(index: LexicalIndex, titles: LexicalIndex | None, table: SynonymTable, text: str,
                weight: float = SYNONYM_WEIGHT) -> WordScores:
    """BM25 of every product for a query, with what the synonym mappings add (their phrases matched in
    `titles` first, see `LexicalIndex.scores`)."""
    expansions = table.expansions(*index.readings(text)) if len(table) else []
    plain = index.scores(text)
    if not expansions:
        return WordScores(plain, np.zeros_like(plain), [])
    total = index.scores(text, [e.phrases for e in expansions], weight, titles)
    return WordScores(total, total - plain, expansions)
