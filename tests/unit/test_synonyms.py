"""Synonym mappings as data: Atlas Search's document rules, what a mapping adds to a BM25 query, and the curated
source's quality rules (every catalog phrase names products of its own type). Pure; the catalog is read from
seeding/catalog/, no database."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from seeding.catalog_loader import CatalogError, load_catalog
from seeding.generate import Generator
from seeding.synonyms import SOURCE, curated_mappings
from zava_core.model.documents import SynonymMapping
from zava_core.retail.catalog_index import CatalogSnapshot
from zava_core.retail.lexical import LexicalDocument, LexicalIndex, tokenize
from zava_core.retail.synonym_index import digest_of
from zava_core.retail.synonyms import EMPTY, SynonymTable, table_from_documents, word_scores


def mapping(mapping_id: str, kind: str, synonyms: list[str], inputs: list[str] | None = None,
            product_type: str | None = None) -> SynonymMapping:
    return SynonymMapping.model_validate({"_id": mapping_id, "mappingType": kind, "synonyms": synonyms,
                                          "input": inputs, "product_type": product_type})


def doc(key: str, name: str, description: str = "", type_: str = "T") -> LexicalDocument:
    return LexicalDocument(key, name, type_, "C", description, {})


# --- the document: Atlas Search's synonym-source format -------------------------------------------


def test_a_mapping_document_follows_atlas_search_rules() -> None:
    explicit = mapping("m1", "explicit", ["toilet flapper"], ["running toilet"])
    assert explicit.model_dump(by_alias=True, exclude_none=True) == {
        "_id": "m1", "mappingType": "explicit", "input": ["running toilet"], "synonyms": ["toilet flapper"],
        "source": "operator"}
    with pytest.raises(ValidationError, match="needs input"):
        mapping("m2", "explicit", ["flapper"])
    with pytest.raises(ValidationError, match="at least two"):
        mapping("m3", "equivalent", ["flapper"])
    with pytest.raises(ValidationError, match="blank"):
        mapping("m4", "equivalent", ["flapper", "   "])
    with pytest.raises(ValidationError):
        mapping("m5", "synonym", ["a", "b"])  # neither equivalent nor explicit


def test_invalid_documents_are_skipped_not_fatal() -> None:
    table = table_from_documents([
        {"_id": "ok", "mappingType": "explicit", "input": ["zzwidget"], "synonyms": ["mallet"]},
        {"_id": "bad", "mappingType": "explicit", "synonyms": ["mallet"]},  # no input
        {"_id": 7, "mappingType": "equivalent", "synonyms": ["tap", "faucet"]},  # an operator's numeric id
    ])
    assert [m.id for m in table.mappings] == ["ok", "7"]


# --- what a mapping adds to a query ----------------------------------------------------------------


def test_explicit_inputs_trigger_their_synonyms_and_equivalents_trigger_the_whole_group() -> None:
    table = SynonymTable([mapping("job", "explicit", ["toilet flapper"], ["toilet keeps running"], "TOILET PARTS"),
                          mapping("same", "equivalent", ["teflon tape", "thread seal tape"])])
    fired = table.expansions(tokenize("my toilet keeps running all night"))
    assert [(e.mapping_id, e.texts, e.product_type) for e in fired] == [("job", ("toilet flapper",), "TOILET PARTS")]
    assert table.expansions(tokenize("toilet flapper")) == []  # a synonym is not an input of its explicit mapping
    (same,) = table.expansions(tokenize("thread seal tape for the shower arm"))
    assert set(same.texts) == {"teflon tape", "thread seal tape"}  # the typed name too: both names gain alike


def test_input_words_may_have_up_to_two_words_between_them_in_order() -> None:
    table = SynonymTable([mapping("nails", "explicit", ["claw hammer"], ["pull nails"])])
    assert table.expansions(tokenize("pull out old nails"))  # two words between
    assert not table.expansions(tokenize("pull out all the old rusty nails"))  # out, all, old, rusty: four
    assert not table.expansions(tokenize("nails to pull"))  # out of order


def test_a_phrase_that_is_only_stopwords_and_one_word_triggers_nothing() -> None:
    # "by the door" analyses to "door": it would fire on every door query.
    table = SynonymTable([mapping("m", "explicit", ["mudroom locker"], ["by the door", "shoes and backpacks"])])
    assert table.expansions(tokenize("garage door opener")) == []
    assert table.expansions(tokenize("shoes and backpacks everywhere"))


def test_a_synonym_phrase_scores_products_that_hold_all_its_words_and_counts_less_than_typed_words() -> None:
    index = LexicalIndex([doc("flapper", "Toilet Flapper"), doc("seat", "Toilet Seat"),
                          doc("mallet", "Rubber Mallet", "flapper-free")])
    titles = LexicalIndex([doc("flapper", "Toilet Flapper"), doc("seat", "Toilet Seat"),
                           doc("mallet", "Rubber Mallet")])
    table = SynonymTable([mapping("job", "explicit", ["toilet flapper"], ["keeps running"])])
    found = word_scores(index, titles, table, "keeps running", weight=0.8)
    plain = index.scores("keeps running")
    assert not plain.any()  # no product holds the typed words
    expected = 0.8 * titles.phrase_scores(("toilet", "flapper"))
    assert found.total == pytest.approx(expected)
    assert found.total[0] > 0 and found.total[1] == 0  # the seat holds "toilet" but not "flapper"
    assert found.total[2] == 0  # "flapper" in a description does not count while a title holds the phrase
    assert found.from_synonyms == pytest.approx(found.total - plain)
    assert word_scores(index, titles, EMPTY, "keeps running").expansions == []


def test_a_phrase_no_title_holds_is_looked_for_in_the_whole_document() -> None:
    index = LexicalIndex([doc("a", "Post", "for a mailbox post"), doc("b", "Gravel")])
    titles = LexicalIndex([doc("a", "Post"), doc("b", "Gravel")])
    scores = index.phrase_scores(("mailbox", "post"), titles)
    assert scores[0] > 0 and scores[1] == 0


def test_coverage_counts_unknown_words_as_missing() -> None:
    index = LexicalIndex([doc("a", "Christmas Lights"), doc("b", "Garden Hose")])
    assert index.coverage("christmas lights") == pytest.approx([1.0, 0.0])
    assert index.coverage("artificial christmas tree") == pytest.approx([1 / 3, 0.0])  # two words no product has
    assert index.coverage("garden hse")[1] == pytest.approx(1.0)  # a misspelling counts through its correction


# --- the curated source ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_snapshot() -> CatalogSnapshot:
    products = Generator(load_catalog(), scale="small", seed=1, as_of=date(2026, 12, 1)).product_documents()
    return CatalogSnapshot({p["_id"]: p for p in products}, ())


def test_the_curated_source_covers_every_type_with_products_and_loads_as_atlas_mappings() -> None:
    catalog = load_catalog()
    mappings = curated_mappings(catalog)
    assert {m.product_type for m in mappings} == {t.name for t in catalog.types if t.product_count}
    assert len({m.id for m in mappings}) == len(mappings)
    assert all(m.source == "catalog" for m in mappings)
    kinds = Counter(m.mappingType for m in mappings)
    assert kinds["explicit"] > 0 and kinds["equivalent"] > 0


def test_every_catalog_phrase_of_the_source_names_products_of_its_own_type(catalog_snapshot) -> None:
    """A synonym is searched: it must find the type it was written for more than any other (names and types
    first, as search matches it), or it would pull other products up."""
    index, titles, types = catalog_snapshot.lexical, catalog_snapshot.titles, catalog_snapshot.types
    for m in curated_mappings(load_catalog()):
        for phrase in m.synonyms:
            hits = Counter(types[i] for i in np.flatnonzero(index.phrase_scores(tokenize(phrase), titles)))
            own = hits.pop(m.product_type, 0)
            assert own > 0 and own >= sum(hits.values()), (m.id, phrase, own, dict(hits))


def test_a_source_naming_an_unknown_type_is_refused(tmp_path) -> None:
    source = json.loads(SOURCE.read_text())
    source["types"]["LAWN MOWERS"] = {"same": [], "called": {}, "jobs": {"lawn mower": ["cut the grass"]}}
    path = tmp_path / "synonyms.json"
    path.write_text(json.dumps(source))
    with pytest.raises(CatalogError, match="LAWN MOWERS"):  # a type of the taxonomy, but without products
        curated_mappings(load_catalog(), path)


def test_the_synonym_digest_sees_an_edit_whatever_order_the_mappings_were_read_in() -> None:
    """The version a load computes from what it read equals the one a later check computes from its own read."""
    mappings = [{"_id": f"op_{n}", "mappingType": "equivalent", "synonyms": [f"a{n}", f"b{n}"]} for n in range(5)]
    assert digest_of(mappings) == digest_of(list(reversed(mappings)))
    edited = [*mappings[:4], {**mappings[4], "synonyms": ["a4", "c4"]}]  # by hand: no updated_at to tell
    assert digest_of(edited) != digest_of(mappings)
    assert digest_of(mappings[:4]) != digest_of(mappings) and digest_of([])[0] == 0
