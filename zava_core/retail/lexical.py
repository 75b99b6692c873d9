"""A BM25 index over the product catalog, with light stemming and typo tolerance (pure, no I/O).

Why BM25 beside the vectors: shoppers name specs ("3/8 in", "20 amp"), exact product words and
misspell them; a static embedding blurs all three. Each product is one document whose fields are
weighted by repeating them (a simplified BM25F): name and product type count more than the
description, specifications and category. The index holds, per term, the BM25 weight of every
document containing it, so a query is a handful of numpy additions over 424 documents.

Typo tolerance: a query term missing from the vocabulary is matched to vocabulary terms within one
edit (two for terms of eight letters or more), found through a deletion neighbourhood (SymSpell)
rather than a scan; such matches count `FUZZY_WEIGHT` of an exact one. Adjacent query words that
form a catalog word ("jig saw" -> jigsaw) add that word.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

K1, B = 1.2, 0.75
FIELD_WEIGHTS = {"name": 3, "type": 2, "category": 1, "specifications": 1, "description": 1}
FUZZY_WEIGHT = 0.8
FUZZY_MIN_CHARS = 3  # shorter words are too ambiguous to correct
LONG_WORD_CHARS = 8  # from here on, two edits are forgiven

STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "from", "get", "has", "have", "i", "i'm",
    "im", "it", "its", "is", "me", "my", "need", "of", "on", "or", "our", "so", "some", "something", "that", "the",
    "their", "them", "this", "to", "up", "use", "want", "we", "what", "when", "which", "will", "with", "without",
    "you", "your",
})
# Units and their spellings, folded to one token so "20 volt" meets "20V" and "3 inch" meets "3 in.".
UNITS = {"inch": "in", "inches": "in", "feet": "ft", "foot": "ft", "gallon": "gal", "gallons": "gal",
         "pound": "lb", "pounds": "lb", "lbs": "lb", "ounce": "oz", "ounces": "oz", "volt": "v", "volts": "v",
         "amps": "amp", "ampere": "amp", "amperes": "amp", "quart": "qt", "quarts": "qt", "watt": "w",
         "watts": "w", "degree": "deg", "degrees": "deg", "millimeter": "mm", "millimeters": "mm"}
IRREGULAR = {"shelves": "shelf", "knives": "knife", "leaves": "leaf", "halves": "half", "wolves": "wolf"}
_TOKEN = re.compile(r"\d+-\d+/\d+|\d+(?:[./]\d+)+|[a-z0-9]+(?:'[a-z]+)?")
_DIGITS_THEN_LETTERS = re.compile(r"^(\d+(?:\.\d+)?)([a-z]+)$")
_DIMENSION = re.compile(r"^\d+x\d+$")


def _undouble(word: str) -> str:
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        return word[:-1]
    return word


@functools.lru_cache(maxsize=20_000)
def stem(word: str) -> str:
    """Fold plurals and -ing/-ed endings; the same rule on both sides matters more than linguistics."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and not word.endswith("eed") and len(word) > 4:
        word = _undouble(word[:-2])
    return word


def _raw_tokens(text: str) -> list[str]:
    out: list[str] = []
    for token in _TOKEN.findall(text.lower().replace("’", "'")):
        token = token.replace("'", "")
        split = token[0].isdigit() and _DIGITS_THEN_LETTERS.match(token)
        if split and not _DIMENSION.match(token):
            out += [split.group(1), split.group(2)]  # "20v" -> 20, v; "2x4" stays whole
        else:
            out.append(token)
    return out


def tokenize(text: str) -> list[str]:
    """Lower-case terms: fractions and mixed numbers kept whole (3/8, 1-1/4), units folded, stemmed."""
    terms = []
    for token in _raw_tokens(text):
        token = UNITS.get(token, token)
        if token in STOPWORDS:
            continue
        terms.append(stem(token))
    return terms


def _hyphen_joins(text: str) -> list[str]:
    """'pull-down' also as 'pulldown', 'dead-bolt' as 'deadbolt': shoppers write compounds either way."""
    return [stem(a + b) for a, b in re.findall(r"\b([a-z]{2,})-([a-z]{2,})\b", text.lower())]


def fraction_text(value: float) -> str | None:
    """0.375 -> '3/8', 1.25 -> '1-1/4': specification numbers as shoppers and names write them."""
    frac = Fraction(value).limit_denominator(64)
    if frac.denominator == 1 or frac.denominator not in (2, 4, 8, 16, 32, 64) or abs(float(frac) - value) > 1e-9:
        return None
    whole, part = divmod(frac.numerator, frac.denominator)
    rest = f"{part}/{frac.denominator}"
    return f"{whole}-{rest}" if whole else rest


def specification_text(specifications: Mapping[str, object]) -> str:
    """Keys become words ('chuck_size_in' -> 'chuck size in'); true flags keep their key, false ones drop."""
    parts = []
    for key, value in specifications.items():
        words = key.replace("_", " ")
        if isinstance(value, bool):
            if value:
                parts.append(words)
        elif isinstance(value, int | float):
            parts.append(f"{words} {value:g}")
            if isinstance(value, float) and (text := fraction_text(value)):
                parts.append(text)
        else:
            parts.append(f"{words} {value}")
    return " ; ".join(parts)


@dataclass(frozen=True)
class LexicalDocument:
    key: str  # the product id
    name: str
    type: str
    category: str
    description: str
    specifications: Mapping[str, object]


def _deletes(term: str) -> set[str]:
    return {term[:i] + term[i + 1:] for i in range(len(term))}


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a transposition is one edit); `limit + 1` once it is exceeded."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class LexicalIndex:
    """BM25 over the catalog; `search` returns (key, score) for every document a query term matches."""

    def __init__(self, documents: Sequence[LexicalDocument]) -> None:
        self.keys = [d.key for d in documents]
        surfaces: dict[str, Counter[str]] = defaultdict(Counter)  # term -> the words written for it
        bags = [self._bag(d, surfaces) for d in documents]
        self.surface = {term: words.most_common(1)[0][0] for term, words in surfaces.items()}
        lengths = np.asarray([sum(bag.values()) for bag in bags], dtype=np.float32)
        average = float(lengths.mean()) if bags else 1.0
        term_ids: dict[str, int] = {}
        rows_term, rows_doc, rows_tf = [], [], []
        for index, bag in enumerate(bags):
            for term, tf in bag.items():
                rows_term.append(term_ids.setdefault(term, len(term_ids)))
                rows_doc.append(index)
                rows_tf.append(tf)
        term_of = np.asarray(rows_term, dtype=np.int32)
        doc_of = np.asarray(rows_doc, dtype=np.int32)
        tf = np.asarray(rows_tf, dtype=np.float32)
        df = np.bincount(term_of, minlength=len(term_ids)).astype(np.float32)
        idf = np.log1p((len(bags) - df + 0.5) / (df + 0.5))
        weights = idf[term_of] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[doc_of] / average))
        order = np.argsort(term_of, kind="stable")
        ends = np.cumsum(df.astype(np.int64))
        docs_sorted, weights_sorted = doc_of[order], weights[order].astype(np.float32)
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {
            term: (docs_sorted[ends[i] - int(df[i]):ends[i]], weights_sorted[ends[i] - int(df[i]):ends[i]])
            for term, i in term_ids.items()}
        self._neighbours: dict[str, set[str]] = defaultdict(set)
        self._by_initial: dict[str, list[str]] = defaultdict(list)  # long words, for the two-edit fallback
        for term in self.postings:
            if term.isalpha() and len(term) >= FUZZY_MIN_CHARS:
                for variant in _deletes(term) | {term}:
                    self._neighbours[variant].add(term)
                if len(term) >= LONG_WORD_CHARS - 2:
                    self._by_initial[term[0]].append(term)

    @staticmethod
    def _bag(document: LexicalDocument, surfaces: dict[str, Counter[str]]) -> Counter[str]:
        bag: Counter[str] = Counter()
        fields = {"name": document.name, "type": document.type, "category": document.category,
                  "description": document.description,
                  "specifications": specification_text(document.specifications)}
        for field, text in fields.items():
            weight = FIELD_WEIGHTS[field]
            for word in _raw_tokens(text):
                word = UNITS.get(word, word)
                if word not in STOPWORDS:
                    term = stem(word)
                    bag[term] += weight
                    surfaces[term][word] += 1
            for term in _hyphen_joins(text):
                bag[term] += weight
        return bag

    @property
    def vocabulary_size(self) -> int:
        return len(self.postings)

    def corrections(self, *spellings: str) -> list[str]:
        """Vocabulary terms nearest to a word the catalog does not hold, tried as typed and as stemmed
        ("cordles" is one edit from "cordless", its stem "cordle" two); empty when none is close."""
        best, found = None, set()
        for spelling in dict.fromkeys(spellings):
            if not spelling.isalpha() or len(spelling) < FUZZY_MIN_CHARS:
                continue
            limit = 2 if len(spelling) >= LONG_WORD_CHARS else 1
            probes = _deletes(spelling) | {spelling}
            if limit == 2:
                probes |= {d for p in list(probes) for d in _deletes(p)}
            candidates = {c for p in probes for c in self._neighbours.get(p, ())}
            if limit == 2:  # deletions on both sides miss a word short of two letters: scan same-initial words
                candidates.update(c for c in self._by_initial.get(spelling[0], ()) if abs(len(c) - len(spelling)) <= 2)
            for candidate in candidates:
                distance = edit_distance(spelling, candidate, limit)
                if distance > limit or (best is not None and distance > best):
                    continue
                if best is None or distance < best:
                    best, found = distance, set()
                found.add(candidate)
        return sorted(found)

    def expand(self, query: str) -> list[list[tuple[str, float]]]:
        """Per query term, the index terms that stand for it with their weight (exact 1, corrected less)."""
        words = [UNITS.get(t, t) for t in _raw_tokens(query)]
        stems = [stem(w) for w in words]
        joined = [a + b for a, b in itertools.pairwise(stems) if a + b in self.postings]
        groups: list[list[tuple[str, float]]] = []
        seen: set[str] = set()
        for word, term in [*zip(words, stems, strict=True), *((j, j) for j in joined)]:
            if word in STOPWORDS or term in seen:
                continue
            seen.add(term)
            if term in self.postings:
                groups.append([(term, 1.0)])
            elif fixes := self.corrections(word, term):
                groups.append([(fix, FUZZY_WEIGHT) for fix in fixes])
        return groups

    def spelling_fixes(self, query: str) -> dict[str, str]:
        """{typed word: catalog word} for the words of a query the catalog does not hold but nearly does
        (the most frequent candidate when several are equally near)."""
        fixes = {}
        for word in _raw_tokens(query):
            word = UNITS.get(word, word)
            if word in STOPWORDS or stem(word) in self.postings:
                continue
            if candidates := self.corrections(word, stem(word)):
                best = max(candidates, key=lambda term: (len(self.postings[term][0]), term))
                fixes[word] = self.surface.get(best, best)
        return fixes

    def readings(self, query: str) -> list[list[str]]:
        """The query's analysed words as typed and, when a word is misspelt, with the catalog word instead
        (what synonym mappings are matched against)."""
        typed = tokenize(query)
        fixed = []
        for term in typed:
            candidates = [] if term in self.postings else self.corrections(term)
            fixed.append(max(candidates, key=lambda c: (len(self.postings[c][0]), c)) if candidates else term)
        return [typed] if fixed == typed else [typed, fixed]

    def scores(self, query: str, phrase_groups: Iterable[Sequence[Sequence[str]]] = (),
               phrase_weight: float = 1.0, titles: LexicalIndex | None = None) -> np.ndarray:
        """BM25 of every document; each of `phrase_groups` (a synonym mapping's phrases) adds the score of a
        document's best phrase, times `phrase_weight`. A phrase counts where all its words are: in `titles`
        (the same documents' names and types: what a product is) when any title holds it, else anywhere."""
        total = np.zeros(len(self.keys), dtype=np.float32)
        for alternatives in self.expand(query):
            if len(alternatives) == 1:
                term, weight = alternatives[0]
                docs, values = self.postings[term]
                total[docs] += weight * values
                continue
            best = np.zeros_like(total)  # a misspelling counts once, through its best reading
            for term, weight in alternatives:
                docs, values = self.postings[term]
                best[docs] = np.maximum(best[docs], weight * values)
            total += best
        for phrases in phrase_groups:
            best = np.zeros_like(total)
            for phrase in phrases:
                best = np.maximum(best, self.phrase_scores(phrase, titles))
            total += phrase_weight * best
        return total

    def coverage(self, query: str) -> np.ndarray:
        """Per document, the share of the query's words it holds (a misspelt word through its corrections; a word
        the catalog does not know at all counts as missing everywhere)."""
        words = {stem(w): w for w in (UNITS.get(t, t) for t in _raw_tokens(query)) if w not in STOPWORDS}
        held = np.zeros(len(self.keys), dtype=np.float32)
        for term, word in words.items():
            present = np.zeros(len(self.keys), dtype=bool)
            for alternative in [term] if term in self.postings else self.corrections(word, term):
                present[self.postings[alternative][0]] = True
            held += present
        return held / len(words) if words else held

    def phrase_scores(self, phrase: Sequence[str], titles: LexicalIndex | None = None) -> np.ndarray:
        """A phrase's score per document: from `titles` where a title holds every word, else from here."""
        if titles is not None and (in_titles := titles._phrase_scores(phrase)).any():
            return in_titles
        return self._phrase_scores(phrase)

    def _phrase_scores(self, phrase: Sequence[str]) -> np.ndarray:
        """Sum of the phrase's term weights in the documents holding every one of its terms (0 elsewhere)."""
        out = np.zeros(len(self.keys), dtype=np.float32)
        if not phrase or any(term not in self.postings for term in phrase):
            return out
        present = np.ones(len(self.keys), dtype=bool)
        for term in dict.fromkeys(phrase):
            docs, values = self.postings[term]
            holds = np.zeros(len(self.keys), dtype=bool)
            holds[docs] = True
            present &= holds
            out[docs] += values
        return np.where(present, out, 0)

    def search(self, query: str, limit: int | None = None) -> list[tuple[str, float]]:
        scores = self.scores(query)
        hits = np.flatnonzero(scores > 0)
        order = hits[np.lexsort((hits, -scores[hits]))]  # best first, ties in catalog order
        if limit is not None:
            order = order[:limit]
        return [(self.keys[i], float(scores[i])) for i in order]


def documents_from_products(products: Iterable[Mapping[str, object]], titles_only: bool = False,
                            ) -> list[LexicalDocument]:
    """Lexical documents from product documents as stored (`product_name`, `type_name`, ...); `titles_only`:
    the name and type alone."""
    return [LexicalDocument(key=str(p["_id"]), name=str(p["product_name"]), type=str(p.get("type_name", "")),
                            category="" if titles_only else str(p.get("category_name", "")),
                            description="" if titles_only else str(p.get("description", "")),
                            specifications={} if titles_only else dict(p.get("specifications") or {}))  # type: ignore[call-overload]
            for p in products]
