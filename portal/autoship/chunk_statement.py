"""The one statement that turns a chunk of due standing orders into orders.

It creates the orders, their lines and first status, notes what could not ship, records the
cycles that ordered nothing, settles the one-time lines that went with the orders and moves
the profiles to their next date, as data-modifying common table expressions over the due rows
passed in as arrays. Prices, volume, the shipping fee and
the total come from the rule book (``portal.orders.rules``): this module only says which rows
they apply to.

Row estimates of CTEs are guesses (often 1 row), and a nested loop between two CTE scans is
quadratic, so no two CTEs are ever joined: each due row gets its order id up front (nextval),
"which orders were created" is the hashed NOT IN subplan that PostgreSQL uses for small sets,
and every real join has a table with an index on one side. The chunk's id range bounds those
joins. All sub-statements see the same snapshot: the orders inserted here are known through
RETURNING only.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import (Date, Integer, String, and_, bindparam, case, cast, column, exists, func,
                        literal, literal_column, not_, null, or_, select, union_all, update)
from sqlalchemy.dialects.postgresql import ARRAY, REGCLASS, insert
from sqlalchemy.sql import Select

from portal.addresses.models import Address
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipOccurrence, AutoshipOneTimeLine,
                                    AutoshipProfile, OneTimeStatus, OutOfStockPolicy, ProfileStatus)
from portal.catalog.models import Product, ProductUnit, StockLevel
from portal.db import UTCDateTime, Volume
from portal.orders.models import Order, OrderLine, OrderSource, OrderStatusChange
from portal.orders.rules import (ShippingRule, line_amount_sql, line_volume_sql, order_total_sql,
                                 unit_amount_sql)
from portal.orders.states import OrderStatus
from portal.payments.models import PaymentMethod

SKIP_NOTE = "nothing could ship (items unavailable) or below the minimum PV"

_PROFILES, _ITEMS = AutoshipProfile.__table__, AutoshipItem.__table__
_PRODUCTS, _UNITS, _STOCK = Product.__table__, ProductUnit.__table__, StockLevel.__table__
_ORDERS, _LINES, _HISTORY = Order.__table__, OrderLine.__table__, OrderStatusChange.__table__
_ADDRESSES, _CARDS = Address.__table__, PaymentMethod.__table__
_EVENTS, _OCCURRENCES = AutoshipEvent.__table__, AutoshipOccurrence.__table__
_ONE_TIME = AutoshipOneTimeLine.__table__


def _array(name: str, item_type) -> object:
    # The due rows come as array literals ("{1,2,3}"): integers, ISO dates and NULL need no
    # quoting, and one text value is far cheaper for the driver than a list of thousands.
    return cast(bindparam(name, type_=String), ARRAY(item_type))


def array_literal(values) -> str:
    """The text of a PostgreSQL array of integers or dates, NULL for None."""
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


@lru_cache(maxsize=8)
def item_sold_sql(product, unit):
    """An item's product and unit are still on sale (``product`` and ``unit`` are the catalog's
    tables, or aliases of them)."""
    return and_(product.c.active, unit.c.active)


def item_in_stock_sql(stock, item, unit):
    """Enough of an item is available now for its quantity in its unit."""
    return StockLevel.available_sql(stock) >= item.c.quantity * unit.c.eaches_per_unit


def item_backordered_sql(profile):
    """The profile's items that are out of stock are ordered anyway (shipped when they arrive)."""
    return profile.c.out_of_stock_policy == OutOfStockPolicy.BACKORDER


def item_ships_sql(sold, in_stock, backorder):
    """Whether an item goes into a cycle's order: on sale, and in stock or backordered. The
    engine's chunk and the forecast both ask this, so they cannot disagree."""
    return and_(sold, or_(backorder, in_stock))


def chunk_statement(shipping: ShippingRule) -> Select:
    """The chunk's statement for one shipping rule. Parameters: ``profile_ids``, ``due_dates``
    and ``next_dates`` (array literals, one entry per due profile), ``low_id``/``high_id`` (the
    chunk's id range), ``now``, ``as_of``, ``min_pv``, ``skip_note``. Returns one row: the
    number of orders created and of cycles recorded as skipped."""
    low, high = bindparam("low_id", type_=Integer), bindparam("high_id", type_=Integer)
    now, as_of = bindparam("now", type_=UTCDateTime()), bindparam("as_of", type_=Date())
    min_pv, skip_note = bindparam("min_pv", type_=Volume()), bindparam("skip_note", type_=String())
    p, i, pr, u, s = _PROFILES, _ITEMS, _PRODUCTS, _UNITS, _STOCK

    rows = func.unnest(_array("profile_ids", Integer), _array("due_dates", Date),
                       _array("next_dates", Date)).table_valued(
        column("profile_id", Integer), column("due_date", Date), column("next_date", Date)
    ).render_derived()
    orders_sequence = cast(select(func.pg_get_serial_sequence(_ORDERS.name, "id")).scalar_subquery(),
                           REGCLASS)
    due = select(rows.c.profile_id, rows.c.due_date, rows.c.next_date,
                 func.nextval(orders_sequence).label("order_id")
                 ).cte("d").prefix_with("MATERIALIZED")

    def cycle_lines(line, one_time: bool):
        """The due profiles' lines of one kind: their recurring items, or their pending
        one-time lines (which have the same columns and are priced by the same rules)."""
        joined = due.join(p, p.c.id == due.c.profile_id).join(line, line.c.profile_id == due.c.profile_id)
        return select(
            due.c.order_id, due.c.profile_id, due.c.due_date, line.c.id.label("item_id"),
            (line.c.id if one_time else cast(null(), Integer)).label("one_time_id"),
            pr.c.id.label("product_id"), pr.c.sku, pr.c.name, u.c.code.label("unit_code"),
            u.c.eaches_per_unit, line.c.quantity,
            unit_amount_sql(p.c.price_policy, line.c.locked_price, u.c.price).label("price"),
            unit_amount_sql(p.c.price_policy, line.c.locked_pv, u.c.pv).label("pv"),
            unit_amount_sql(p.c.price_policy, line.c.locked_bv, u.c.bv).label("bv"),
            item_sold_sql(pr, u).label("sold"),
            item_in_stock_sql(s, line, u).label("in_stock"),
            item_backordered_sql(p).label("backorder"),
        ).select_from(
            joined.join(pr, pr.c.id == line.c.product_id)
            .join(u, and_(u.c.product_id == line.c.product_id, u.c.code == line.c.unit_code))
            .outerjoin(s, s.c.product_id == line.c.product_id)
        ).where(line.c.profile_id.between(low, high), p.c.id.between(low, high),
                # written out, so that the plan can use the partial index of the pending lines
                *([line.c.status == literal_column(f"'{OneTimeStatus.PENDING.value}'")] if one_time else []))

    # One-time lines ship in the order with the recurring items, once: ``settled`` closes them.
    items = union_all(cycle_lines(i, False), cycle_lines(_ONE_TIME, True)
                      ).cte("items").prefix_with("MATERIALIZED")
    shippable = item_ships_sql(items.c.sold, items.c.in_stock, items.c.backorder)

    totals = select(
        items.c.order_id, items.c.profile_id, items.c.due_date,
        func.sum(line_amount_sql(items.c.price, items.c.quantity)).label("subtotal"),
        func.sum(line_volume_sql(items.c.pv, items.c.quantity)).label("pv"),
        func.sum(line_volume_sql(items.c.bv, items.c.quantity)).label("bv"),
    ).where(shippable).group_by(items.c.order_id, items.c.profile_id, items.c.due_date).cte("totals")

    a, card = _ADDRESSES, _CARDS
    fee = shipping.fee_sql(totals.c.subtotal)
    order_values = {
        "id": totals.c.order_id, "user_id": p.c.user_id,
        "status": literal(OrderStatus.PENDING_PAYMENT.value, String),
        "source": literal(OrderSource.AUTOSHIP.value, String),
        "placed_at": now, "updated_at": now,
        "address_id": a.c.id, "ship_moniker": a.c.moniker, "ship_name": a.c.full_name,
        "ship_line1": a.c.line1, "ship_line2": a.c.line2, "ship_city": a.c.city,
        "ship_region": a.c.region, "ship_postal_code": a.c.postal_code, "ship_country": a.c.country,
        "destination_key": a.c.destination_key,
        "payment_method_id": card.c.id, "payment_label": PaymentMethod.label_sql(card),
        "autoship_profile_id": totals.c.profile_id, "autoship_due_date": totals.c.due_date,
        "payment_attempts": literal(0, Integer),
        "subtotal": totals.c.subtotal, "shipping_fee": fee,
        "total": order_total_sql(totals.c.subtotal, fee),
        "pv_total": totals.c.pv, "bv_total": totals.c.bv,
    }
    new_orders = insert(_ORDERS).from_select(
        list(order_values),
        select(*order_values.values())
        .select_from(totals.join(p, p.c.id == totals.c.profile_id)
                     .join(a, a.c.id == p.c.address_id)
                     .join(card, card.c.id == p.c.payment_method_id))
        .where(p.c.id.between(low, high), p.c.status == ProfileStatus.ACTIVE,
               totals.c.pv >= min_pv)
        .order_by(totals.c.order_id)
    ).on_conflict_do_nothing(
        index_elements=[_ORDERS.c.autoship_profile_id, _ORDERS.c.autoship_due_date]
    ).returning(_ORDERS.c.id).cte("new_orders")

    not_created = select(due.c.order_id, due.c.profile_id, due.c.due_date).where(
        due.c.order_id.not_in(select(new_orders.c.id))).cte("not_created").prefix_with("MATERIALIZED")
    # Not created here, and no order from elsewhere (a Ship now) for that date either.
    not_ordered = select(not_created.c.profile_id, not_created.c.due_date).where(~exists().where(
        _ORDERS.c.autoship_profile_id == not_created.c.profile_id,
        _ORDERS.c.autoship_due_date == not_created.c.due_date)).cte("not_ordered").prefix_with("MATERIALIZED")

    line_values = {
        "order_id": items.c.order_id, "product_id": items.c.product_id, "sku": items.c.sku,
        "name": items.c.name, "unit_code": items.c.unit_code,
        "eaches_per_unit": items.c.eaches_per_unit, "quantity": items.c.quantity,
        "eaches": items.c.quantity * items.c.eaches_per_unit, "unit_price": items.c.price,
        "line_total": line_amount_sql(items.c.price, items.c.quantity),
        "pv": line_volume_sql(items.c.pv, items.c.quantity),
        "bv": line_volume_sql(items.c.bv, items.c.quantity),
    }
    new_lines = insert(_LINES).from_select(
        list(line_values),
        select(*line_values.values())
        .where(shippable, items.c.order_id.not_in(select(not_created.c.order_id)))
        .order_by(items.c.order_id, items.c.one_time_id.nulls_first(), items.c.item_id)).cte("new_lines")

    # The one-time lines of the orders made here never ship again: in the order, or left out.
    o = _ONE_TIME
    settled = update(o).values(
        status=case((shippable, OneTimeStatus.SHIPPED.value), else_=OneTimeStatus.LEFT_OUT.value),
        order_id=items.c.order_id, settled_at=now,
    ).where(o.c.id == items.c.one_time_id, o.c.status == OneTimeStatus.PENDING,
            items.c.order_id.not_in(select(not_created.c.order_id))).cte("settled")

    new_history = insert(_HISTORY).from_select(
        ["order_id", "from_status", "to_status", "note", "changed_at"],
        select(new_orders.c.id, null(), literal(OrderStatus.PENDING_PAYMENT.value, String),
               literal("placed by autoship", String), now)).cte("new_history")

    note = case((not_(items.c.sold), "item left out: no longer sold"),
                (items.c.backorder, "item backordered"),
                else_="item skipped: out of stock")
    item_notes = insert(_EVENTS).from_select(
        ["profile_id", "actor_id", "at", "action", "details"],
        select(items.c.profile_id, null(), now, note,
               items.c.name + " (" + items.c.unit_code + ") for " + cast(items.c.due_date, String(10)))
        .where(not_(and_(items.c.sold, items.c.in_stock)))).cte("item_notes")

    skipped = insert(_OCCURRENCES).from_select(
        ["profile_id", "due_date", "outcome", "note", "recorded_at"],
        select(not_ordered.c.profile_id, not_ordered.c.due_date, literal("skipped", String),
               skip_note, now)
    ).on_conflict_do_nothing(
        index_elements=[_OCCURRENCES.c.profile_id, _OCCURRENCES.c.due_date]
    ).returning(_OCCURRENCES.c.profile_id).cte("skipped")

    advanced = update(p).values(
        next_run_date=due.c.next_date,
        last_order_date=case((p.c.id.not_in(select(not_ordered.c.profile_id)), as_of),
                             else_=p.c.last_order_date),
        status=case((due.c.next_date.is_(None), ProfileStatus.CANCELLED.value), else_=p.c.status),
        updated_at=now,
    ).where(p.c.id == due.c.profile_id, p.c.id.between(low, high),
            p.c.status == ProfileStatus.ACTIVE).cte("advanced")

    return select(select(func.count()).select_from(new_orders).scalar_subquery(),
                  select(func.count()).select_from(skipped).scalar_subquery()
                  ).add_cte(new_lines, new_history, item_notes, advanced, settled)

