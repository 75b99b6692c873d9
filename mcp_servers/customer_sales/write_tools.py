"""The customer-sales tools that write: orders, stock moves and counts, and the store operations (cancel,
return, delivery status, transfers between stores, supplier deliveries).

Each asks the user to confirm through MCP elicitation where the client offers it (`ask_to_confirm`,
`require_confirmed`), with a question zava_core builds from the database (`retail.confirmations`), and each is
one zava_core call with the caller's scope; rules live in zava_core.
Each spec's access (`WRITE`, or `OVERWRITE` for one that undoes or overwrites something) gives its annotations.
"""

from typing import Annotated

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from pydantic import Field

from mcp_servers.runtime.app import Confirmation, ask_to_confirm, call, require_confirmed
from mcp_servers.tools.arguments import (
    ConflictId,
    CustomerId,
    DeliveryReference,
    DeliveryStatus,
    IdempotencyKey,
    LocationPart,
    OrderId,
    Reason,
    ReceivedQuantity,
    Sku,
    StoreName,
    TransferQuantity,
)
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.spec import Access, ToolSpec
from zava_core import limits as L
from zava_core.retail import cancellations, conflicts, inventory, order_status, orders, returns, transfers
from zava_core.retail import confirmations as ask

OrderItems = Annotated[list[orders.OrderLineRequest], Field(min_length=1, max_length=L.MAX_ORDER_LINES)]


# Confirmation resolvers (MCP elicitation): each asks the question zava_core builds from the database facts of
# the change (names, quantities, prices, totals); the caller's own text only quoted (`retail.confirmations`).
async def confirm_order(ctx: Context, customer_id: str, store: str,
                        items: list[orders.OrderLineRequest]) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.order_question(zava, scope, customer_id, store, items))


async def confirm_move(ctx: Context, sku: str, store: str, aisle: str, shelf: str,
                       bin: str) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.move_question(zava, scope, sku, store, aisle, shelf, bin))


async def confirm_count(ctx: Context, sku: str, store: str,
                        counted_quantity: int) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.count_question(zava, scope, sku, store, counted_quantity))


async def confirm_cancel(ctx: Context, order_id: str, reason: str) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.cancel_question(zava, scope, order_id, reason))


async def confirm_return(ctx: Context, order_id: str, items: list[orders.OrderLineRequest],
                         reason: str) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.return_question(zava, scope, order_id, items, reason))


async def confirm_status(ctx: Context, order_id: str, status: str) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.status_question(zava, scope, order_id, status))


async def confirm_transfer(ctx: Context, sku: str, from_store: str, to_store: str,
                           quantity: int) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.transfer_question(zava, scope, sku, from_store, to_store,
                                                                                quantity))


async def confirm_receipt(ctx: Context, sku: str, store: str, quantity: int,
                          reference: str) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.receipt_question(zava, scope, sku, store, quantity,
                                                                               reference))


async def confirm_resolve(ctx: Context, conflict_id: str,
                          note: str | None = None) -> Elicit[Confirmation] | Confirmation:
    return await ask_to_confirm(ctx, lambda zava, scope: ask.resolve_question(zava, scope, conflict_id, note))


async def create_order(
    ctx: Context, customer_id: CustomerId, store: StoreName, items: OrderItems, idempotency_key: IdempotencyKey,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_order)],
) -> orders.CreatedOrder:
    """Order items for a customer at a store: all lines or none, stock never below zero."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await orders.create_order(zava, scope, customer_id, store, items, idempotency_key)


async def move_inventory(ctx: Context, sku: Sku, store: StoreName, aisle: LocationPart, shelf: LocationPart,
                         bin: LocationPart,
                         confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_move)],
                         ) -> inventory.MoveResult:
    """Record that a product now sits at a new aisle/shelf/bin in a store."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await inventory.move_inventory(zava, scope, sku, store, aisle, shelf, bin)


async def update_stock_count(
    ctx: Context, sku: Sku, store: StoreName,
    counted_quantity: Annotated[int, Field(ge=0, le=L.MAX_COUNTED_QUANTITY, strict=True,
                                           description="Units counted on the shelf")],
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_count)],
) -> inventory.StockCountResult:
    """Record a stock audit: stock set to the counted quantity, last_counted stamped."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await inventory.update_stock_count(zava, scope, sku, store, counted_quantity)


async def cancel_order(
    ctx: Context, order_id: OrderId, reason: Reason, idempotency_key: IdempotencyKey,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_cancel)],
) -> cancellations.CancelledOrder:
    """Cancel a completed or processing order: units back in stock, out of sales, kept as cancelled."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await cancellations.cancel_order(zava, scope, order_id, reason, idempotency_key)


async def return_items(
    ctx: Context, order_id: OrderId, items: OrderItems, reason: Reason, idempotency_key: IdempotencyKey,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_return)],
) -> returns.ReturnedItems:
    """Take back units of a completed or delivered order (at most bought minus returned) into stock."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await returns.return_items(zava, scope, order_id, items, reason, idempotency_key)


async def update_order_status(
    ctx: Context, order_id: OrderId, status: DeliveryStatus,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_status)],
) -> order_status.StatusChange:
    """Move an online order one step: processing -> shipped -> delivered."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await order_status.update_order_status(zava, scope, order_id, status)


async def transfer_stock(
    ctx: Context, sku: Sku, from_store: StoreName, to_store: StoreName, quantity: TransferQuantity,
    idempotency_key: IdempotencyKey,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_transfer)],
) -> transfers.TransferResult:
    """Move units to another store (managers: out of their own store only), never below zero."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await transfers.transfer_stock(zava, scope, sku, from_store, to_store, quantity, idempotency_key)


async def receive_stock(
    ctx: Context, sku: Sku, store: StoreName, quantity: ReceivedQuantity, reference: DeliveryReference,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_receipt)],
) -> transfers.ReceiptResult:
    """Book a supplier delivery into a store's stock (a reference is counted once)."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await transfers.receive_stock(zava, scope, sku, store, quantity, reference)


async def resolve_sync_conflict(
    ctx: Context, conflict_id: ConflictId,
    confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_resolve)],
    note: Annotated[str | None, Field(max_length=L.REASON_MAX_CHARS)] = None,
) -> conflicts.Resolution:
    """Apply a sync conflict's stock correction once, as a recorded movement, and close it."""
    async with call(ctx) as (zava, scope):
        require_confirmed(confirmed)
        return await conflicts.resolve_conflict(zava, scope, conflict_id, note)


SPECS = (
    ToolSpec(ToolName.CREATE_ORDER, Server.CUSTOMER_SALES, create_order, Access.WRITE),
    ToolSpec(ToolName.MOVE_INVENTORY, Server.CUSTOMER_SALES, move_inventory, Access.OVERWRITE),
    ToolSpec(ToolName.UPDATE_STOCK_COUNT, Server.CUSTOMER_SALES, update_stock_count, Access.OVERWRITE),
    ToolSpec(ToolName.CANCEL_ORDER, Server.CUSTOMER_SALES, cancel_order, Access.OVERWRITE),
    ToolSpec(ToolName.RETURN_ITEMS, Server.CUSTOMER_SALES, return_items, Access.OVERWRITE),
    ToolSpec(ToolName.UPDATE_ORDER_STATUS, Server.CUSTOMER_SALES, update_order_status, Access.WRITE),
    ToolSpec(ToolName.TRANSFER_STOCK, Server.CUSTOMER_SALES, transfer_stock, Access.WRITE),
    ToolSpec(ToolName.RECEIVE_STOCK, Server.CUSTOMER_SALES, receive_stock, Access.WRITE),
    ToolSpec(ToolName.RESOLVE_SYNC_CONFLICT, Server.CUSTOMER_SALES, resolve_sync_conflict, Access.WRITE),
)
