"""Load our generated dataset into the original's schema with COPY (asyncpg), in a database of its own.

The database (default `zava_peer`) is created here and marked with a comment; an existing database
of that name without the mark is never dropped. Tables first, then COPY, then the original's
indexes and row-level-security policies, then ANALYZE so the planner sees the real sizes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.peer import convert
from seeding.generate import Generator

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
TABLES_END = "-- end of tables"
MARK = "zava bench peer: safe to drop"
SERIALS = {"stores": "store_id", "categories": "category_id", "product_types": "type_id", "products": "product_id",
           "customers": "customer_id", "orders": "order_id", "order_items": "order_item_id"}


class PeerDatabaseRefused(RuntimeError):
    """The target database exists and is not ours to drop."""


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def schema_parts() -> tuple[str, str]:
    """(tables, everything after them): indexes are built after the data, as a bulk load should."""
    text = SCHEMA_SQL.read_text()
    cut = text.index(TABLES_END)
    return text[:cut], text[cut:]


async def recreate_database(dsn: str, name: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        exists = await admin.fetchval("SELECT oid FROM pg_database WHERE datname = $1", name)
        if exists is not None:
            comment = await admin.fetchval("SELECT shobj_description($1, 'pg_database')", exists)
            if comment != MARK:
                raise PeerDatabaseRefused(f"database {name!r} exists and was not created by bench peer; "
                                          "nothing was changed. Pass --pg-database with another name")
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{MARK}'")
    finally:
        await admin.close()


async def load(dsn: str, database: str, generator: Generator) -> LoadReport:
    await recreate_database(dsn, database)
    report = LoadReport()
    tables_sql, rest_sql = schema_parts()
    conn = await asyncpg.connect(dsn, database=database)
    try:
        await conn.execute(tables_sql)
        started = time.perf_counter()
        ids, reference = convert.reference_rows(generator.store_documents(), generator.category_documents(),
                                                generator.product_type_documents(), generator.product_documents())
        for table, rows in reference.items():
            await _copy(conn, table, rows, report)
        customers = 0
        for batch in generator.customer_batches():
            customers += await _copy(conn, "customers", convert.customer_rows(ids, batch), None)
        report.counts["customers"] = customers
        await _copy(conn, "inventory", convert.inventory_rows(ids, generator.inventory_documents()), report)
        orders = items = 0
        for _, headers, lines in generator.order_chunks():
            orders += await _copy(conn, "orders", convert.order_rows(ids, headers), None)
            items += await _copy(conn, "order_items", list(convert.order_item_rows(ids, lines, items + 1)), None)
        report.counts.update(orders=orders, order_items=items)
        report.seconds["copy (generation included)"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(rest_sql)
        for table, column in SERIALS.items():  # COPY gave explicit ids: move each sequence past them
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('retail.{table}', '{column}'), "
                               f"(SELECT coalesce(max({column}), 1) FROM retail.{table}))")
        report.seconds["indexes and policies"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("ANALYZE")
        report.seconds["analyze"] = time.perf_counter() - started
    finally:
        await conn.close()
    return report


async def _copy(conn: asyncpg.Connection, table: str, rows: list[tuple], report: LoadReport | None) -> int:
    await conn.copy_records_to_table(table, records=rows, columns=list(convert.COLUMNS[table]), schema_name="retail")
    if report is not None:
        report.counts[table] = len(rows)
    return len(rows)


async def vector_extension_available(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))
