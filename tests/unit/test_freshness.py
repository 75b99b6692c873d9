"""When a read model may answer (zava_core.readmodels.freshness): never while this process's own write to the
key is in flight, and not until the change feed has caught up past the moment the write ended."""

from __future__ import annotations

import time
from dataclasses import dataclass

from zava_core.readmodels.freshness import Freshness


@dataclass
class _State:
    caught_up_at: float = 0.0


class _Feed:
    """The two things the rule reads of a feed: whether it is current, and when it last found nothing new."""

    def __init__(self) -> None:
        self.state = _State()
        self.is_current = True

    def current(self, within: float) -> bool:
        return self.is_current

    def catch_up(self) -> None:
        self.state.caught_up_at = time.monotonic() + 1e-6


def test_a_key_written_in_a_transaction_is_in_flight_until_it_ends_and_the_feed_passes() -> None:
    freshness, feed = Freshness(), _Feed()
    freshness.follow(feed)
    key = ("inventory", "store_seattle", "prod_X")
    assert freshness.settled(key) and freshness.settled_all("inventory")
    with freshness.transaction():
        freshness.wrote(key)
        feed.catch_up()  # the feed found nothing new *before* the commit: that says nothing of this write
        assert not freshness.settled(key) and not freshness.settled_all("inventory")
    assert not freshness.settled(key)  # ended, but the feed has not polled since
    feed.catch_up()
    assert freshness.settled(key) and freshness.settled_all("inventory")
    assert freshness.settled(("inventory", "store_tacoma", "prod_X"))  # another key was never held back


def test_a_single_write_and_a_stale_feed() -> None:
    freshness, feed = Freshness(), _Feed()
    freshness.follow(feed)
    key = ("orders", "cust_000001")
    with freshness.writing(key):
        feed.catch_up()
        assert not freshness.settled(key)
    feed.catch_up()
    assert freshness.settled(key) and freshness.following()
    feed.is_current = False
    assert not freshness.following()
    assert not Freshness().following()  # no feed at all: the database answers
