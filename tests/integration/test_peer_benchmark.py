"""`bench peer` end to end on the `small` dataset: a private PostgreSQL cluster loaded by COPY, every
question asked both ways, the answers equal to the cent; the original's row-level security really on;
and a changed cent on the original's side is caught.

Needs asyncpg (the `peer` extra) and the PostgreSQL server binaries (Debian's `postgresql`); without either the
module is skipped, saying which.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

asyncpg = pytest.importorskip("asyncpg", reason='asyncpg is not installed: pip install -e ".[peer]"')

from seeded_data import TEST_AS_OF, TEST_SEED  # noqa: E402

from bench.peer import loader, questions  # noqa: E402
from bench.peer.cluster import ClusterUnavailable, private_cluster, server_binaries  # noqa: E402
from bench.peer.convert import SUPER_MANAGER_UUID, rls_user_id  # noqa: E402
from bench.peer.run import answer_all, ask_original, open_pool  # noqa: E402
from seeding.catalog_loader import load_catalog  # noqa: E402
from seeding.generate import Generator  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(server_binaries() is None,
                                 reason="no PostgreSQL server binaries: sudo apt-get install -y postgresql")]
DATABASE = "zava_peer_test"


@pytest.fixture(scope="module")
def generator() -> Generator:
    return Generator(load_catalog(), scale="small", seed=TEST_SEED, as_of=TEST_AS_OF)


@pytest.fixture(scope="module")
def pg(generator: Generator) -> Iterator[tuple[str, loader.LoadReport]]:
    """A private cluster holding the same `small` dataset the `seeded` fixture holds."""
    import asyncio

    try:
        with private_cluster() as dsn:
            yield dsn, asyncio.run(loader.load(dsn, DATABASE, generator))
    except ClusterUnavailable as exc:
        pytest.skip(f"cannot start a private PostgreSQL cluster here: {exc}")


def _stores(generator: Generator) -> dict[str, str]:
    return {s["store_id"]: s["store_name"] for s in generator.store_documents()}


def test_copy_loads_every_generated_row(pg, generator: Generator) -> None:
    _, report = pg
    orders = sum(len(headers) for _, headers, _ in generator.order_chunks())
    assert report.counts["orders"] == orders == len(generator.order_plans)
    assert report.counts["customers"] == generator.customer_count
    assert report.counts["inventory"] == len(generator.inventory_documents())


@pytest.mark.anyio
async def test_row_level_security_applies_to_the_benchmarks_connections(pg, generator: Generator) -> None:
    dsn, _ = pg
    seattle = str(rls_user_id("Zava Retail Seattle"))
    sql = "SELECT DISTINCT store_id FROM retail.order_items ORDER BY 1"
    async with open_pool(dsn, DATABASE) as pool:
        assert [r["store_id"] for r in await ask_original(pool, seattle, sql, ())] == [1]
        assert len(await ask_original(pool, SUPER_MANAGER_UUID, sql, ())) == len(generator.store_documents())
        assert await ask_original(pool, "11111111-1111-1111-1111-111111111111", sql, ()) == []


@pytest.mark.anyio
async def test_every_question_gets_the_same_answer_both_ways(pg, seeded, generator: Generator) -> None:
    dsn, _ = pg
    answers = await answer_all(seeded, dsn, DATABASE, questions.pick_sample(generator), _stores(generator),
                               iterations=1)
    assert answers.problems == []
    compared = [r for r in answers.rows if not r.status.startswith("not compared")]
    assert len([r for r in compared if r.ours_ms]) >= 16
    assert all(r.status.startswith("same") for r in compared)
    assert any(r.identity == "Seattle manager" for r in compared)


@pytest.mark.anyio
async def test_a_cent_changed_on_the_original_side_is_a_mismatch(pg, seeded, generator: Generator) -> None:
    dsn, _ = pg
    conn = await asyncpg.connect(dsn, database=DATABASE)  # the owner: no row-level security, may write
    try:
        item = await conn.fetchval("SELECT oi.order_item_id FROM retail.order_items oi JOIN retail.orders o "
                                   "USING (order_id) WHERE o.order_date BETWEEN $1 AND $2 AND oi.store_id <> 1 "
                                   "ORDER BY 1 LIMIT 1",
                                   date(2025, 1, 1), date(2025, 12, 31))
        await conn.execute("UPDATE retail.order_items SET total_amount = total_amount + 0.01 WHERE order_item_id = $1",
                           item)
        answers = await answer_all(seeded, dsn, DATABASE, questions.pick_sample(generator), _stores(generator),
                                   iterations=1, only="revenue by category, 2025")
    finally:
        await conn.execute("UPDATE retail.order_items SET total_amount = total_amount - 0.01 WHERE order_item_id = $1",
                           item)
        await conn.close()
    assert answers.problems and all(line.startswith("mismatch revenue by category, 2025") for line in answers.problems)
    # The line is not Seattle's: the head-office question sees the cent, the Seattle manager's does not.
    assert [(r.identity, r.status) for r in answers.rows if r.ours_ms] == [
        ("head office", "MISMATCH"), ("Seattle manager", "same (9 rows)")]
