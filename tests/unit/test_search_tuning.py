"""How `python -m bench search-tune` picks a fusion: the one least likely to lose to BM25, not the best mean."""

from __future__ import annotations

from bench.search_tune import choose, not_losing_share
from zava_core.retail.fusion import FusionParams


def rows(*pairs: tuple[float, float]) -> list[dict[str, float]]:
    return [{"recall@5": r, "mrr@10": m, "hit@5": 1.0} for r, m in pairs]


BM25 = rows(*[(1.0, 0.5)] * 20)


def test_a_ranking_that_never_scores_a_query_lower_never_loses_a_resample() -> None:
    lifted = rows((1.0, 1.0), *[(1.0, 0.5)] * 19)
    assert not_losing_share(lifted, BM25) == 1.0
    assert not_losing_share(BM25, BM25) == 1.0  # a tie is not a loss


def test_a_better_mean_bought_by_losing_some_queries_loses_some_resamples() -> None:
    # +1.0 MRR on two queries, -0.5 on three: the mean is higher, but a resample without the two gains loses.
    gamble = rows(*[(1.0, 1.5)] * 2, *[(1.0, 0.0)] * 3, *[(1.0, 0.5)] * 15)
    share = not_losing_share(gamble, BM25)
    assert 0.2 < share < 0.9
    assert not_losing_share(gamble, BM25) == share  # seeded: the choice is the same on every run


def test_choose_prefers_the_fusion_that_does_not_lose_over_the_one_with_the_best_mean() -> None:
    safe = rows((1.0, 0.75), *[(1.0, 0.5)] * 19)  # mean MRR 0.5125
    gamble = rows(*[(1.0, 1.5)] * 2, *[(1.0, 0.0)] * 3, *[(1.0, 0.5)] * 15)  # mean MRR 0.525
    meaning = {"recall@5": 0.5, "mrr@10": 0.2}
    ranked = choose([(FusionParams("max", 0.6), gamble), (FusionParams("max", 0.95), safe)], BM25, meaning)
    assert [r[0].lexical_weight for r in ranked] == [0.95, 0.6]
    assert ranked[0][2] == 1.0 and ranked[1][2] < 1.0


def test_choose_drops_fusions_below_either_single_signal_on_the_whole_half() -> None:
    worse = rows(*[(0.9, 0.5)] * 20)
    better = rows((1.0, 0.75), *[(1.0, 0.5)] * 19)
    meaning = {"recall@5": 0.5, "mrr@10": 0.2}
    ranked = choose([(FusionParams("max", 0.5), worse), (FusionParams("max", 0.9), better)], BM25, meaning)
    assert [r[0].lexical_weight for r in ranked] == [0.9]
