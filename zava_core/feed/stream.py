"""The change feed: one MongoDB change stream per process over the collections derived data reads, resumed
from a token kept in MongoDB, folding every order change into the rollups and handing each event to the
in-memory structures that follow the data (the catalog, the cube, the read models).

    writers (our tools, Ditto's connector, scripts) ──► orders, order_items, inventory, products, customers
                                                            │ change stream (one per process)
                                 ┌──────────────────────────┼────────────────────────────┐
                         sales fold (exactly once)   conflict detection       subscribers (in memory)
                         sales_monthly, sales_daily  sync_conflicts           catalog, cube, read models

When it folds: the orders a batch of events changed are folded with the orders of the batches that follow,
once FOLD_GATHER_SECONDS have passed since the first of them or a poll finds nothing new (an idle feed folds at
once). Each fold rewrites a store's month and day cells, which hold every product sold in them (~40 KB at the
default scale: ~10 ms of the embedded engine's time each); folding a second's orders in a few transactions
instead of one per order leaves that time to the lookups and orders the engine also serves. The subscribers
get every batch at once; the position is stored, and a retry resumes, only where everything before is folded.

Where it starts: the token stored in `zava_feed` (written after every folded batch, and by seeding at the
end of a run), so a restart continues where any process stopped. Without a token, or with one the server no
longer holds (its history rolled over), it rebuilds the rollups from the collections (`rebuild.py`) and
follows from a position taken before the rebuild read anything. Every process that runs a feed folds:
the fold's per-order records make a second folder of the same change a no-op, so replicas need no leader.

Where the server has no change streams (a standalone mongod): the feed reports `unavailable` and nothing
follows; our tools need a replica set anyway (transactions), and after a script writes orders an operator
runs `python -m zava_ops fold rebuild`. Collections outside `WATCHED` (Ditto connector's own bookkeeping
among them) never reach the feed: the stream matches the watched names only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo.errors import OperationFailure, PyMongoError

from zava_core.errors import ZavaError
from zava_core.feed import fold, rebuild
from zava_core.feed.conflicts import detect
from zava_core.infra import db as zdb
from zava_core.store import Collections, Transactions

log = logging.getLogger("zava.feed")
WATCHED: tuple[str, ...] = ("orders", "order_items", "inventory", "products", "customers", "sales_monthly",
                            "sales_daily", "search_synonyms")
FOLDED = ("orders", "order_items")  # changes that move an order's contribution to the rollups
FOLD_TOKEN_ID = "sales_fold"
POLL_MS = 100  # how long the server holds an empty getMore: the feed's idle latency
BATCH_EVENTS = 500  # events handled together at most, and orders waiting for the fold at most
FOLD_GATHER_SECONDS = 0.25  # orders changed while the feed is busy wait this long to be folded together
IDLE_SAVE_SECONDS = 30.0  # an idle feed still stores its advancing position this often
RETRY_SECONDS = (0.2, 1.0, 5.0)
# How long closing waits for the feed to stop. A getMore the engine never answers (seen on the embedded engine
# with several feeds in one process) can outlive its cancel: closing the client then ends the read instead.
CLOSE_WAIT_SECONDS = 3.0
CURRENT_WITHIN_SECONDS = 2.0  # how recently the feed must have found nothing new to count as current
Handler = Callable[[Sequence[dict]], Awaitable[None]]


@dataclass
class FeedState:
    """What the feed has done, for /metrics, the doctor and tests (typed, on the context)."""

    mode: str = "off"  # off | starting | rebuilding | following | unavailable | stopped
    started_from: str = ""  # "stored token", "rebuild (no token)", "rebuild (token expired)", "now"
    events: int = 0
    batches: int = 0
    folded_orders: int = 0
    folds: int = 0  # fold runs (each a transaction per fold.BATCH orders)
    conflicts_found: int = 0
    errors: int = 0
    last_error: str = ""
    last_event_wall: float = 0.0  # the commit time of the last event handled (epoch seconds)
    # Monotonic times: the last pass of the loop, and the start of the last poll that found nothing new (every
    # commit before that moment has been handled: what read models compare a write of their own against).
    heartbeat: float = 0.0
    caught_up_at: float = 0.0
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=2_000))  # commit -> handled, seconds

    @property
    def lag_seconds(self) -> float:
        return self.lags[-1] if self.lags else 0.0

    def lag_percentile(self, q: float) -> float:
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ChangeFeed:
    def __init__(self, collections: Collections, transactions: Transactions, *, folds: bool = True,
                 poll_ms: int = POLL_MS) -> None:
        self.collections = collections
        self.transactions = transactions
        self.folds = folds
        self.poll_ms = poll_ms
        self.state = FeedState()
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task | None = None
        self._seeded: int | None = None
        self._position: dict | None = None  # the resume token after the last batch handled (where a retry resumes)
        self._saved_at = 0.0
        # The fold's own writes to the rollups come back as events one poll later; until a poll after the fold
        # finds nothing new, what follows the rollups in memory (the cube) has not seen them yet.
        self._folded_at: float | None = None
        self._handled = asyncio.Event()  # set after every batch (tests and benchmarks wait on it)
        self._unfolded: set[str] = set()  # orders changed by events handled but not folded yet
        self._unfolded_since = 0.0  # monotonic time the oldest of them was handled

    def subscribe(self, collections: Iterable[str], handler: Handler) -> None:
        """`handler` gets every batch of events of these collections as it arrives (the fold of its orders may
        come a little later: FOLD_GATHER_SECONDS)."""
        for name in collections:
            if name not in WATCHED:
                raise ValueError(f"the feed does not watch {name!r}")
            self._handlers.setdefault(name, []).append(handler)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def current(self, within: float = CURRENT_WITHIN_SECONDS) -> bool:
        """Whether the feed has handled everything committed up to `within` seconds ago: it follows, and one of
        its polls found nothing new that recently (a feed catching up a backlog is not current)."""
        return self.state.mode == "following" and time.monotonic() - self.state.caught_up_at < within

    def rollups_current(self, within: float = CURRENT_WITHIN_SECONDS) -> bool:
        """`current()`, and the rollup changes of this feed's own last fold delivered too: when a follower of the
        rollups may answer from memory (else it reads the cells changed since what it holds)."""
        return self.current(within) and self._folded_at is None and not self._unfolded

    async def start(self) -> None:
        """Begin following in the background (a rebuild, when one is needed, runs there too)."""
        if self.running:
            return
        self.state.mode = "starting"
        self._task = asyncio.create_task(self._run(), name="zava-change-feed")

    async def close(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CLOSE_WAIT_SECONDS)
            if not done:
                log.warning("the change feed did not stop within %.0f s of its cancel (a driver read still waits): "
                            "closing the connection ends it", CLOSE_WAIT_SECONDS)
                task.add_done_callback(_consume)
            else:
                _consume(task)
        self.state.mode = "stopped"

    async def wait_until(self, ready: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> bool:
        """Wait (batch by batch) until `ready()` holds: what a test or a benchmark does after a write."""
        deadline = time.monotonic() + timeout
        while not await ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._handled.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handled.wait(), min(remaining, 0.5))
        return True

    # --- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if not (await zdb.capabilities(self.collections.products)).replica_set:
                self.state.mode = "unavailable"
                log.warning("no change streams on this server (not a replica set): derived data follows no writer; "
                            "after writing orders run `python -m zava_ops fold rebuild`")
                return
            stream = await self._open_at_start()
            attempt = 0
            while True:
                try:
                    if stream is None:
                        # From the last batch handled, not from the stream's own position (already past the batch
                        # that failed): that batch is read again (the fold and the detection are idempotent).
                        stream = await self._open(self._position)
                    await self._follow(stream)
                except asyncio.CancelledError:
                    raise
                except (PyMongoError, ZavaError) as exc:  # a driver error, or a fold transaction that failed
                    self._note_error(exc)
                    delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                    attempt += 1
                    await asyncio.sleep(delay)
                    if stream is not None:
                        with contextlib.suppress(PyMongoError):
                            await stream.close()
                    stream = None
        finally:
            if self.state.mode not in ("unavailable",):
                self.state.mode = "stopped"

    async def _open_at_start(self):
        if not self.folds:
            self.state.started_from = "now"
            return await self._open(None)
        stored = await self.collections.feed.find_one({"_id": FOLD_TOKEN_ID})
        if stored and stored.get("token"):
            try:
                stream = await self._open(stored["token"])
                self.state.started_from = "stored token"
                return stream
            except OperationFailure as exc:  # the server no longer holds that history
                log.warning("the stored change-stream position is gone (%s): rebuilding the rollups", exc.code)
                why = "rebuild (token expired)"
        else:
            why = "rebuild (no token)"
        stream = await self._open(None)  # from before the rebuild reads anything: nothing is missed
        self.state.mode, self.state.started_from = "rebuilding", why
        await rebuild.rebuild(self.collections)
        await self._save(stream.resume_token, force=True)
        self.state.mode = "following"
        return stream

    async def _open(self, token: dict | None):
        # A rename onto a watched name is how a derived collection is replaced whole (`setup.replace_collection`,
        # a rebuild by this process or another): its followers hear of it as an event of the new name.
        watched = list(WATCHED)
        stream = await self.collections.db.watch(
            [{"$match": {"$or": [{"ns.coll": {"$in": watched}},
                                 {"operationType": "rename", "to.coll": {"$in": watched}}]}}],
            full_document="updateLookup",
            full_document_before_change="whenAvailable", resume_after=token, max_await_time_ms=self.poll_ms)
        self._position = stream.resume_token  # `token`, or where an empty first batch ends: nothing handled is after
        self.state.mode = "following"
        return stream

    async def _follow(self, stream) -> None:
        while True:
            batch: list[dict] = []
            asks_server = not _buffered(stream)  # an empty buffer: the next event comes from a getMore
            polled_at = time.monotonic()
            event = await stream.try_next()  # waits up to poll_ms on the server when nothing is new
            while event is not None:
                batch.append(event)
                # What the last getMore brought is handled together; asking for more here would wait poll_ms.
                if len(batch) >= BATCH_EVENTS or not _buffered(stream):
                    break
                event = await stream.try_next()
            # A getMore hands over every event committed before it was asked (up to a batch's worth): once its
            # whole batch is handled (or it brought none), everything committed before `polled_at` is. A feed
            # that never sees an empty poll (steady writes) is current all the same.
            complete = asks_server and not _buffered(stream)
            if batch:
                await self._handle(batch)
            due = bool(self._unfolded) and (not batch or len(self._unfolded) >= BATCH_EVENTS
                                            or time.monotonic() - self._unfolded_since >= FOLD_GATHER_SECONDS)
            if due:
                await self._fold()
            if not self._unfolded:  # everything up to here is folded: where a restart or a retry resumes
                await self._save(stream.resume_token, force=bool(batch) or due)
                self._position = stream.resume_token
            if complete:
                self.state.caught_up_at = polled_at
                if self._folded_at is not None and polled_at > self._folded_at:
                    self._folded_at = None  # everything committed before this poll was delivered: the fold's too
            self.state.heartbeat = time.monotonic()
            self._handled.set()

    async def _fold(self) -> None:
        if self._seeded is None:
            self._seeded = await fold.seeded_order_count(self.collections)
        outcome = await fold.fold_orders(self.collections, self.transactions, self._unfolded, seeded=self._seeded)
        self._unfolded.clear()
        self.state.folds += 1
        self.state.folded_orders += outcome.changed
        if outcome.changed:
            self._folded_at = time.monotonic()

    async def _handle(self, batch: list[dict]) -> None:
        by_collection: dict[str, list[dict]] = {}
        for event in batch:
            by_collection.setdefault(_collection_of(event), []).append(event)
        if self.folds:
            order_ids = {_order_of(event) for name in FOLDED for event in by_collection.get(name, [])}
            order_ids.discard(None)
            if order_ids and not self._unfolded:
                self._unfolded_since = time.monotonic()
            self._unfolded.update(order_ids)  # type: ignore[arg-type]
            self.state.conflicts_found += await detect(self.collections, batch)
        for name, events in by_collection.items():
            for handler in self._handlers.get(name, ()):
                try:
                    await handler(events)
                except Exception:  # one follower's bug must not stop the fold or the others
                    log.exception("a change-feed subscriber of %s failed", name)
        now = time.time()
        walls = [_wall(event) for event in batch]
        self.state.events += len(batch)
        self.state.batches += 1
        self.state.last_event_wall = max(w for w in walls if w) if any(walls) else now
        self.state.lags.extend(max(0.0, now - w) for w in walls if w)

    async def _save(self, token: dict | None, *, force: bool = False) -> None:
        """Store the position (only a folding feed: the position means "folded up to here")."""
        if not self.folds or token is None or (not force and time.monotonic() - self._saved_at < IDLE_SAVE_SECONDS):
            return
        self._saved_at = time.monotonic()
        await self.collections.feed.update_one(
            {"_id": FOLD_TOKEN_ID}, {"$set": {"token": token, "saved_at": datetime.now(UTC).isoformat()}},
            upsert=True)

    def _note_error(self, exc: Exception) -> None:
        self.state.errors += 1
        self.state.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("the change feed paused: %s", self.state.last_error)


def _consume(task: asyncio.Task) -> None:
    """Take a stopped feed task's outcome: cancelled or a driver error is how a closed feed ends."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, PyMongoError):
        log.error("the change feed ended with an error: %r", exc)


def _buffered(stream: object) -> int:
    """Events already fetched and not yet returned (PyMongo keeps them in the cursor's batch; 0 if unknown)."""
    return len(getattr(getattr(stream, "_cursor", None), "_data", ()) or ())


def _collection_of(event: dict) -> str:
    """The watched collection an event concerns (a rename concerns the name it replaced)."""
    if event.get("operationType") == "rename":
        return event.get("to", {}).get("coll", "")
    return event.get("ns", {}).get("coll", "")


def _order_of(event: dict) -> str | None:
    """The order an orders or order_items event changes (a line's order from its post- or pre-image)."""
    if event.get("ns", {}).get("coll") == "orders":
        return (event.get("documentKey") or {}).get("_id")
    for image in ("fullDocument", "fullDocumentBeforeChange"):
        doc = event.get(image)
        if doc and doc.get("order_id"):
            return doc["order_id"]
    return None


def _wall(event: dict) -> float:
    wall = event.get("wallTime")
    if isinstance(wall, datetime):
        return (wall if wall.tzinfo else wall.replace(tzinfo=UTC)).timestamp()
    cluster = event.get("clusterTime")
    return float(cluster.time) if cluster is not None else 0.0


async def store_position(collections: Collections) -> bool:
    """Store the current change-stream position as where the fold starts (seeding, after it built the rollups
    itself): servers started next follow from here instead of rebuilding. False without change streams."""
    try:
        stream = await collections.db.watch([{"$match": {"ns.coll": {"$in": list(WATCHED)}}}], max_await_time_ms=10)
        async with stream:
            await stream.try_next()
            token = stream.resume_token
    except OperationFailure:
        return False
    if token is None:
        return False
    await collections.feed.update_one({"_id": FOLD_TOKEN_ID}, {"$set": {
        "token": token, "saved_at": datetime.now(UTC).isoformat()}}, upsert=True)
    return True
