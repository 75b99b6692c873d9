"""Pure search logic: tokens, stemming, BM25, typo tolerance, fusion, confidence and suggestions, the bench
metrics and the frozen split, and the Atlas pipeline shape. No I/O; milliseconds."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from bench.search_eval import (
    EVAL_PATH,
    assign_halves,
    expand,
    frozen_half_digest,
    load_eval,
    load_unanswerable,
    recorded_digest,
    score,
)
from zava_core.retail import atlas_search
from zava_core.retail.confidence import TUNED as TUNED_CONFIDENCE
from zava_core.retail.confidence import ConfidenceRule, rule_for, suggest_types
from zava_core.retail.fusion import DEFAULT as DEFAULT_FUSION
from zava_core.retail.fusion import RRF_K, FusionParams, fuse, params_for, reciprocal_rank_fusion
from zava_core.retail.fusion import TUNED as TUNED_FUSION
from zava_core.retail.lexical import (
    FUZZY_WEIGHT,
    K1,
    LexicalDocument,
    LexicalIndex,
    edit_distance,
    fraction_text,
    specification_text,
    stem,
    tokenize,
)
from zava_core.retail.search_misses import miss_id, normalised, store_key
from zava_core.scope import Scope, StoreDirectory, StoreRef

FROZEN_LAST_QUERY = 253  # q001-q253 were split on the freeze date (bench.search_eval.FROZEN_ON)


def doc(key: str, name: str, description: str = "", type_: str = "T", category: str = "C",
        specifications: dict | None = None) -> LexicalDocument:
    return LexicalDocument(key, name, type_, category, description, specifications or {})


# --- tokens and stems -----------------------------------------------------------------------------


def test_stem_folds_plurals_and_endings_the_same_way_on_both_sides() -> None:
    assert stem("hammers") == stem("hammer") == "hammer"
    assert stem("batteries") == stem("battery")
    assert stem("brushes") == "brush" and stem("boxes") == "box"
    assert stem("shelves") == stem("shelf")
    assert stem("cutting") == stem("cut") == "cut"
    assert stem("pruning") == stem("prunning")
    assert stem("sealed") == "seal" and stem("speed") == "speed"
    assert stem("glass") == "glass" and stem("cordless") == "cordless"  # -ss is not a plural


def test_tokenize_keeps_fractions_and_dimensions_whole_and_folds_units() -> None:
    assert tokenize("Zava Pro 20V 1/2 in. Hammer Drill, 4-1/2 in. 2x4") == [
        "zava", "pro", "20", "v", "1/2", "in", "hammer", "drill", "4-1/2", "in", "2x4"]
    assert tokenize("20 volts, 3 inches, 5 gallons") == ["20", "v", "3", "in", "5", "gal"]
    assert tokenize("plumber's putty for my sink") == ["plumber", "putty", "sink"]  # stopwords dropped


def test_fraction_text_writes_binary_fractions_as_names_do() -> None:
    assert fraction_text(0.375) == "3/8"
    assert fraction_text(1.25) == "1-1/4"
    assert fraction_text(7.25) == "7-1/4"
    assert fraction_text(0.3) is None and fraction_text(2.0) is None


def test_specification_text_keeps_true_flags_drops_false_ones_and_adds_fractions() -> None:
    text = specification_text({"chuck_size_in": 0.375, "battery_included": False, "lockable": True, "color": "red"})
    assert "chuck size in 0.375" in text and "3/8" in text
    assert "lockable" in text and "red" in text
    assert "battery" not in text


# --- BM25 -------------------------------------------------------------------------------------------


def test_bm25_scores_match_the_formula_computed_independently() -> None:
    docs = [doc("a", "claw hammer"), doc("b", "rubber mallet"), doc("c", "hammer drill hammer")]
    index = LexicalIndex(docs)
    # Field weights: name x3, type x2 ("t"), category x1 ("c"); the query word appears only in names.
    lengths = [3 * 2 + 2 + 1, 3 * 2 + 2 + 1, 3 * 3 + 2 + 1]
    average = sum(lengths) / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = {key: idf * tf * (K1 + 1) / (tf + K1 * (1 - 0.75 + 0.75 * length / average))
                for key, tf, length in (("a", 3, lengths[0]), ("c", 6, lengths[2]))}
    got = dict(index.search("hammer"))
    assert set(got) == {"a", "c"}
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5)
    assert [k for k, _ in index.search("hammer")] == ["c", "a"]


def test_rarer_words_weigh_more_and_names_weigh_more_than_descriptions() -> None:
    docs = [doc("name", "deck stain"), doc("desc", "fence paint", "also good as a deck stain"),
            doc("other", "deck screws"), doc("x", "paint tray")]
    ranked = [k for k, _ in LexicalIndex(docs).search("deck stain")]
    assert ranked[0] == "name" and ranked[1] == "desc"  # 'stain' (2 docs) outweighs 'deck' (3 docs)
    assert ranked.index("other") > ranked.index("desc")


def test_specifications_type_and_category_are_searchable() -> None:
    docs = [doc("a", "Compact Drill", specifications={"chuck_size_in": 0.375}),
            doc("b", "Big Drill", specifications={"chuck_size_in": 0.5}),
            doc("c", "Flapper", type_="TOILET PARTS", category="PLUMBING")]
    index = LexicalIndex(docs)
    assert index.search("3/8 drill")[0][0] == "a"
    assert index.search("1/2 in drill")[0][0] == "b"
    assert [k for k, _ in index.search("toilet")] == ["c"]
    assert [k for k, _ in index.search("plumbing")] == ["c"]


def test_no_matching_word_gives_no_hit_and_ties_keep_catalog_order() -> None:
    index = LexicalIndex([doc("a", "hose"), doc("b", "hose")])
    assert index.search("zzqx unobtainium") == []
    assert [k for k, _ in index.search("hose")] == ["a", "b"]


# --- typo tolerance ------------------------------------------------------------------------------------


def test_edit_distance_counts_a_transposition_as_one_edit() -> None:
    assert edit_distance("angel", "angle", 2) == 1
    assert edit_distance("dril", "drill", 2) == 1
    assert edit_distance("plyers", "pliers", 2) == 1
    assert edit_distance("kitten", "sitting", 3) == 3
    assert edit_distance("abc", "xyzzzz", 1) == 2  # capped at limit + 1


def test_misspellings_are_corrected_within_one_or_two_edits() -> None:
    index = LexicalIndex([doc("d", "Cordless Drill"), doc("p", "Needle Nose Pliers"),
                          doc("s", "Precision Screwdriver Set"), doc("h", "Garden Hose")])
    assert index.corrections("cordles", stem("cordles")) == ["cordless"]
    assert index.corrections("plyer") == ["plier"]
    assert index.corrections("scrwdrivr") == ["screwdriver"]  # two edits: a long word
    assert index.corrections("hse") == ["hose"]
    assert index.corrections("xq") == [] and index.corrections("zzzzzz") == []
    assert [k for k, _ in index.search("cordles dril")] == ["d"]
    assert index.search("needle nose plyers")[0][0] == "p"


def test_a_corrected_word_counts_less_than_the_exact_word() -> None:
    index = LexicalIndex([doc("a", "garden hose"), doc("b", "garden rake")])
    exact = dict(index.search("hose"))["a"]
    fuzzy = dict(index.search("hosse"))["a"]
    assert fuzzy == pytest.approx(FUZZY_WEIGHT * exact, rel=1e-5)
    assert index.expand("hose") == [[("hose", 1.0)]]  # known words are never "corrected"


def test_split_compounds_meet_their_catalog_word() -> None:
    index = LexicalIndex([doc("j", "Cordless Jigsaw"), doc("r", "Reciprocating Saw"),
                          doc("k", "Pull-Down Kitchen Faucet")])
    assert index.search("jig saw")[0][0] == "j"
    assert index.search("pulldown faucet")[0][0] == "k"


def test_spelling_fixes_name_the_catalog_word_and_leave_english_alone() -> None:
    from zava_core.retail.spelling import corrected_query

    index = LexicalIndex([doc("d", "Cordless Drill", "drills holes; a drill for every job"),
                          doc("h", "Toilet Flapper", "stops a running toilet")])
    assert index.spelling_fixes("cordles dril") == {"cordles": "cordless", "dril": "drill"}
    assert index.spelling_fixes("cordless drill") == {}
    assert corrected_query(index, "Cordles DRIL please") == "cordless drill please"
    assert corrected_query(index, "stop the tiolet running") == "stop the toilet running"
    assert corrected_query(index, "slamming doors") == "slamming doors"  # English words are never replaced


# --- reciprocal rank fusion -----------------------------------------------------------------------


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion({"lexical": ["a", "b", "c"], "semantic": ["c", "a"]})
    scores = {f.key: f.score for f in fused}
    assert scores["a"] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert scores["c"] == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert scores["b"] == pytest.approx(1 / (RRF_K + 2))
    assert [f.key for f in fused] == ["a", "c", "b"]
    assert fused[0].ranks == {"lexical": 1, "semantic": 2} and fused[2].signals == ["lexical"]


def test_rrf_agreement_beats_one_strong_signal_and_weights_tilt_it() -> None:
    rankings = {"lexical": ["x", "both"], "semantic": ["y", "both"]}
    assert reciprocal_rank_fusion(rankings)[0].key == "both"
    tilted = reciprocal_rank_fusion(rankings, weights={"lexical": 1, "semantic": 0})
    assert tilted[0].key == "x"


def test_rrf_ties_and_repeats_are_deterministic() -> None:
    fused = reciprocal_rank_fusion({"a": ["p", "q"], "b": ["q", "p"]})
    assert [f.key for f in fused] == ["p", "q"]  # equal scores, equal best rank: by key
    repeated = reciprocal_rank_fusion({"a": ["p", "p", "q"]})
    assert repeated[0].ranks == {"a": 1} and repeated[0].score == pytest.approx(1 / (RRF_K + 1))
    assert reciprocal_rank_fusion({}) == []
    with pytest.raises(ValueError):
        reciprocal_rank_fusion({"a": ["p"]}, k=-1)


# --- the evaluation set and its metrics -----------------------------------------------------------


def test_the_evaluation_set_covers_every_category_and_kind() -> None:
    queries = load_eval(EVAL_PATH)
    assert len(queries) >= 120 + 60
    assert len({q.query for q in queries}) == len(queries)
    assert len({q.category for q in queries}) == 9
    assert {q.kind for q in queries} == {"need", "project", "misspelling", "spec", "name"}
    assert all(q.exact for q in queries)


def test_the_split_is_stratified_by_kind_and_its_test_half_is_frozen() -> None:
    queries, unanswerable = load_eval(EVAL_PATH), load_unanswerable(EVAL_PATH)
    for kind in {q.kind for q in queries}:
        halves = Counter(q.half for q in queries if q.kind == kind)
        assert set(halves) == {"train", "test"} and abs(halves["train"] - halves["test"]) <= 1, (kind, halves)
    assert Counter(u.half for u in unanswerable) == {"train": len(unanswerable) // 2, "test": len(unanswerable) // 2}
    # The recorded halves are what the rule gave on the day of the freeze (queries added later go to train).
    frozen = [q for q in queries if int(q.id[1:]) <= FROZEN_LAST_QUERY]
    rule = assign_halves([(q.id, q.kind) for q in frozen] + [(u.id, "unanswerable") for u in unanswerable])
    assert {q.id: q.half for q in frozen} | {u.id: u.half for u in unanswerable} == rule
    # Editing a test query or its grade after the freeze changes the digest: measure on a new split instead.
    assert frozen_half_digest(queries, unanswerable) == recorded_digest(EVAL_PATH)
    assert load_eval(EVAL_PATH, half="train") and all(q.half == "train" for q in load_eval(EVAL_PATH, half="train"))
    with pytest.raises(ValueError):
        load_eval(EVAL_PATH, half="dev")


def test_the_split_digest_sees_a_changed_grade() -> None:
    queries = load_eval(EVAL_PATH)
    test_query = next(q for q in queries if q.half == "test")
    regraded = [replace(q, acceptable=(*q.acceptable, "HAMMERS")) if q is test_query else q for q in queries]
    assert frozen_half_digest(regraded) != frozen_half_digest(queries)
    train_query = next(q for q in queries if q.half == "train")
    retrained = [replace(q, query=q.query + " please") if q is train_query else q for q in queries]
    assert frozen_half_digest(retrained) == frozen_half_digest(queries)


def test_metrics_grade_exact_and_acceptable_answers() -> None:
    types = {"HAMMERS": {"H1", "H2", "H3"}}
    exact, acceptable = expand(("HAMMERS",), types), expand(("X9",), types)
    assert exact == {"H1", "H2", "H3"} and acceptable == {"X9"}
    perfect = score(["H2", "H1", "H3", "Z", "Z2"], exact, acceptable)
    assert perfect == {"recall@5": 1.0, "mrr@10": 1.0, "hit@5": 1.0}
    late = score(["X9", "Z", "H1"], exact, acceptable)
    assert late["recall@5"] == pytest.approx(1 / 3)
    assert late["mrr@10"] == pytest.approx(0.5)  # acceptable at rank 1 (half) beats exact at rank 3 (1/3)
    assert score(["Z"] * 10, exact, acceptable) == {"recall@5": 0.0, "mrr@10": 0.0, "hit@5": 0.0}
    many = expand(("HAMMERS",), {"HAMMERS": {f"H{i}" for i in range(8)}})
    assert score([f"H{i}" for i in range(5)], many, set())["recall@5"] == 1.0  # out of min(5, 8)


# --- Atlas: $rankFusion ------------------------------------------------------------------------------


def test_rank_fusion_pipeline_fuses_vector_and_text_search_on_one_collection() -> None:
    pipeline = atlas_search.rank_fusion_pipeline("20 amp breaker", np.ones(4, dtype=np.float32), "m1", 50,
                                                 {"lexical": 0.7, "semantic": 0.3})
    fusion = pipeline[0]["$rankFusion"]
    semantic, lexical = fusion["input"]["pipelines"]["semantic"], fusion["input"]["pipelines"]["lexical"]
    assert semantic[0]["$vectorSearch"]["filter"] == {"model": "m1", "deleted": False}
    assert semantic[0]["$vectorSearch"]["limit"] == 50
    assert lexical[0]["$search"]["index"] == atlas_search.TEXT_INDEX_NAME
    # Atlas refuses fuzzy and synonyms in one text operator: two should clauses, the words in both.
    clauses = [c["text"] for c in lexical[0]["$search"]["compound"]["should"]]
    assert all(c["query"] == "20 amp breaker" for c in clauses)
    assert [("fuzzy" in c, "synonyms" in c) for c in clauses] == [(True, False), (False, True)]
    assert clauses[1]["synonyms"] == atlas_search.TEXT_INDEX_DEFINITION["synonyms"][0]["name"]
    assert atlas_search.TEXT_INDEX_DEFINITION["synonyms"][0]["source"] == {"collection": "search_synonyms"}
    assert fusion["combination"]["weights"] == {"lexical": 0.7, "semantic": 0.3}
    assert {"model": "m1", "deleted": False} in [s.get("$match") for s in lexical]
    assert fusion["scoreDetails"] is True
    assert pipeline[-1]["$project"]["details"] == {"$meta": "scoreDetails"}


def test_score_details_give_each_pipelines_rank_and_the_cosine() -> None:
    hit = atlas_search.parse_fused({"product_id": "prod_X", "details": {"value": 0.03, "details": [
        {"inputPipelineName": "semantic", "rank": 3, "weight": 1, "value": 0.8},
        {"inputPipelineName": "lexical", "rank": 0, "weight": 1}]}})
    assert hit.ranks == {"semantic": 3}
    assert hit.cosine == pytest.approx(0.6)
    assert atlas_search.offers_rank_fusion("8.0.4") and not atlas_search.offers_rank_fusion("7.0.12")
    assert not atlas_search.offers_rank_fusion("?")


# --- score-normalised fusion, confidence and suggestions ---------------------------------------------


def test_max_fusion_mixes_scores_divided_by_each_sides_best() -> None:
    keys = ["a", "b", "c", "d"]
    lexical = np.array([4.0, 2.0, 0.0, 1.0])
    cosine = np.array([0.2, 0.8, 0.4, -0.1])
    fused = fuse(keys, lexical, cosine, cosine >= 0.3, FusionParams("max", 0.75))
    expected = {"a": 0.75 * 1.0, "b": 0.75 * 0.5 + 0.25 * 1.0, "c": 0.25 * 0.5, "d": 0.75 * 0.25}
    assert {f.key: f.score for f in fused} == pytest.approx(expected)
    assert [f.key for f in fused] == ["a", "b", "d", "c"]
    assert fused[1].ranks == {"lexical": 2, "semantic": 1}
    assert fused[0].signals == ["lexical"]  # its cosine is under the threshold: not a semantic hit
    assert fuse(keys, np.zeros(4), cosine, cosine >= 0.9, FusionParams("max", 0.5)) == []


def test_rrf_fusion_of_arrays_uses_the_weights_and_k() -> None:
    keys = ["a", "b"]
    fused = fuse(keys, np.array([1.0, 0.0]), np.array([0.1, 0.9]), np.array([True, True]), FusionParams("rrf", 0.8, 10))
    assert {f.key: f.score for f in fused} == pytest.approx({"a": 0.8 / 11 + 0.2 / 12, "b": 0.2 / 11})


def test_every_tuned_backend_has_a_fusion_and_a_confidence_rule() -> None:
    assert set(TUNED_FUSION) == {"static", "onnx-minilm"} and set(TUNED_CONFIDENCE) >= {"static", "onnx-minilm"}
    assert params_for("openai") == DEFAULT_FUSION and rule_for("hybrid", "openai") == TUNED_CONFIDENCE["lexical"]
    assert rule_for("lexical", "static") == TUNED_CONFIDENCE["lexical"]  # no embedding in lexical mode


def test_a_hit_is_confident_on_any_one_strong_piece_of_evidence() -> None:
    rule = ConfidenceRule(min_coverage=0.67, min_cosine=0.6)
    assert rule.confident(coverage=0.7, named_by_synonym=False, cosine=None)
    assert rule.confident(coverage=0.0, named_by_synonym=True, cosine=0.1)
    assert rule.confident(coverage=0.0, named_by_synonym=False, cosine=0.6)
    assert not rule.confident(coverage=0.5, named_by_synonym=False, cosine=0.59)
    words_only = ConfidenceRule(min_coverage=None, min_cosine=None)
    assert not words_only.confident(coverage=1.0, named_by_synonym=False, cosine=0.99)


def test_suggestions_come_from_synonyms_then_meaning_then_hits_and_name_real_types_once() -> None:
    types = ["HOSES", "HOSES", "MULCH", "SOIL"]
    cosine = np.array([0.1, 0.2, 0.9, 0.5])
    assert suggest_types(types, ["SOIL", None, "LAWN MOWERS"], cosine, [0]) == ["SOIL", "MULCH", "HOSES"]
    assert suggest_types(types, [], None, [1, 0, 2]) == ["HOSES", "MULCH"]  # lexical mode: the hits' types
    assert suggest_types(types, [], None, []) == []


def test_a_miss_counts_against_the_callers_store_or_head_office() -> None:
    directory = StoreDirectory([StoreRef("store_seattle", "Zava Retail Seattle", "Seattle", False),
                                StoreRef("store_tacoma", "Zava Retail Tacoma", "Tacoma", False)])
    assert store_key(Scope.for_head_office(directory)) == "head_office"
    assert store_key(Scope.for_store_manager(directory.resolve("Tacoma"))) == "store_tacoma"
    assert normalised("  Buy a NEW   Fridge ") == "buy a new fridge"
    assert len(normalised("x" * 500)) == 200
    assert miss_id("store_tacoma", "buy a new fridge") != miss_id("store_seattle", "buy a new fridge")
