"""The demo's past: standing orders of Alice's and Bob's downline, replayed day by day through
the real services so that the first login shows the product at work.

A downline of a few dozen people is added under the demo IBOs. About three months before
``today`` most of them start standing orders (several schedules, calendar and rolling, some
holding an item that is out of stock, some paid with a card that declines or expires this
month). Then every day up to yesterday is replayed with the clock frozen at that day: the
engine's run, the charges and their retries (a declining card ends with its standing order in
"payment failed"), and every other week a planning run whose shipments are released and shipped.
Along the way a few people pause or cancel. Today a last planning run leaves a plan with
complete and partial shipments for the admin, and an expected arrival for what is missing; and
Dave, Bob and Alice each have something added to their next autoship, this time only.

Everything goes through the public services (``create_profile``, ``start_run`` and
``materialise_chunk``, ``prepare_charges``/``call_gateway``/``record_outcomes``,
``run_planning``, ``release_shipment``/``ship_shipment``), in the caller's one transaction:
``charging.charge`` is not used because it commits half-way, and a failed seed must leave an
empty database. The random choices come from one seeded ``Random``: the same day gives the same
data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from random import Random

from sqlalchemy import func, or_, and_, select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.addresses.services import add_address, address_book
from portal.autoship import engine, one_time
from portal.autoship.card_notices import send_card_expiry_notices
from portal.autoship.creation import create_profile
from portal.autoship.models import AutoshipProfile, ProfileStatus, Regularity
from portal.autoship.notices import tell_payment_outcomes
from portal.autoship.profiles import AutoshipRules, changes_closed, days_until_cutoff
from portal.autoship.recurrence import Recurrence
from portal.catalog.models import Product
from portal.clock import company_today, frozen_at
from portal.fulfilment.models import Shipment, ShipmentStatus
from portal.fulfilment.planning import run_planning
from portal.fulfilment.receiving import add_expected_arrival
from portal.fulfilment.shipments import release_shipment, ship_shipment
from portal.fulfilment.tracking import Dispatch
from portal.oneclick.identifiers import hash_token
from portal.oneclick.settings import enable_oneclick
from portal.cart.services import add_to_cart
from portal.checkout.services import check_out
from portal.loyalty.ledger import balance_of
from portal.loyalty.program import current_program
from portal.loyalty.reactions import award_noted
from portal.loyalty.standing import choose_points, pay_standing_orders_with_points
from portal.orders.billing import (call_gateway, orders_due_for_retry, prepare_charges,
                                   record_outcomes)
from portal.orders.charging import retry_days
from portal.orders.models import Order, OrderSource
from portal.orders.rules import shipping_rule
from portal.orders.states import OrderStatus
from portal.payments.gateway import PaymentGateway
from portal.payments.services import add_card, wallet
from portal.retention import cancellation
from portal.retention.models import Offer

AddPerson = Callable[[str, str, str, str, User], User]  # email, first, last, role, sponsor

RANDOM_SEED = 18
HISTORY_DAYS = 91           # how far back the standing orders start
POINTS_SPENT_DAYS_AGO = 4   # Dave spends points at checkout then
SHIP_EVERY_DAYS = 14        # the warehouse ships what was planned every other week
DECLINING_CARD = "4000000000000002"
GOOD_CARD = "4242424242424242"

FIRST_NAMES = ("Liam", "Maya", "Noah", "Olga", "Pia", "Quinn", "Rosa", "Sam", "Tara", "Uma",
               "Vic", "Wen", "Xavi", "Yara", "Zane", "Aiko", "Bela", "Cruz", "Dara", "Emil",
               "Fay", "Gus", "Hana", "Ines", "Jon", "Kai", "Lena", "Milo", "Nora", "Omar",
               "Pablo", "Rhea", "Sven", "Tess", "Ugo", "Vera", "Will", "Yusuf", "Zoe", "Abel")
LAST_NAMES = ("Moreau", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka",
              "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Andersen", "Brown", "Costa",
              "Dubois", "Eriksen", "Ferreira")
CITIES = (("Springfield", "IL", "62704"), ("Madison", "WI", "53703"), ("Austin", "TX", "78701"),
          ("Portland", "OR", "97205"), ("Denver", "CO", "80202"), ("Raleigh", "NC", "27601"),
          ("Boise", "ID", "83702"), ("Tampa", "FL", "33602"))
# Schedules people choose, by weight: (name, rule, regularity)
SCHEDULES = (
    ("Monthly essentials", lambda rng: Recurrence.monthly(rng.choice((1, 5, 10, 15, 20, 28))), Regularity.CALENDAR),
    ("Month-end restock", lambda rng: Recurrence.monthly(31), Regularity.CALENDAR),
    ("Every two weeks", lambda rng: Recurrence.every(2, "weeks"), Regularity.CALENDAR),
    ("Every four weeks", lambda rng: Recurrence.every(4, "weeks"), Regularity.ROLLING),
    ("Second Tuesday box", lambda rng: Recurrence.monthly_weekday(2, "TU"), Regularity.CALENDAR),
    ("Every six weeks", lambda rng: Recurrence.every(6, "weeks"), Regularity.ROLLING),
)
# Out of stock from the start; a purchase order says when more arrives.
OUT_OF_STOCK_SKUS = ("HOME-100", "CARE-203")
# Little stock, so that the shipments run it out and today's plan is partly short.
SCARCE_STOCK = {"VIT-001": 30, "PRO-010": 12, "BEV-301": 10}
# Why the demo's members asked to cancel: those who paused instead, and those who went.
SAVED_REASONS = ("away", "too_much")
CANCEL_REASONS = ("too_expensive", "not_right", "other", "too_often")
CANCEL_DETAILS = ("", "Found it cheaper elsewhere.", "", "Moving abroad.")


@dataclass(frozen=True)
class DemoActivity:
    people: int
    profiles: int
    orders: int
    runs: int


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.utc)


def _downline(session: Session, rng: Random, gateway: PaymentGateway, sponsors: list[User],
              start: date, today: date, add_person: AddPerson) -> list[User]:
    """Recruits under ``sponsors`` down to four levels below Alice, with an address and a card."""
    people: list[User] = []
    level = [(sponsor, 1 if sponsor.first_name == "Alice" else 2) for sponsor in sponsors]
    names = iter(rng.sample([(f, l) for f in FIRST_NAMES for l in LAST_NAMES], 200))
    while level:
        nxt = []
        for sponsor, depth in level:
            if depth > 4 or sponsor.role != Role.IBO:
                continue
            for _ in range(rng.randint(2, 4) if depth < 4 else rng.randint(1, 2)):
                first, last = next(names)
                role = Role.IBO if rng.random() < 0.45 else Role.MEMBER
                person = add_person(f"{first}.{last}@standing-order.example".lower(),
                                    first, last, role, sponsor)
                city, region, postal = rng.choice(CITIES)
                add_address(session, user=person, moniker="Home", full_name=person.full_name,
                            line1=f"{rng.randint(1, 999)} {rng.choice(('Oak', 'Elm', 'Pine', 'Cedar'))} Street",
                            city=city, region=region, postal_code=postal, country="US")
                add_card(session, user=person, gateway=gateway, number=GOOD_CARD,
                         exp_month=rng.randint(1, 12), exp_year=today.year + rng.randint(1, 4),
                         cvc="123", cardholder=person.full_name, today=start)
                people.append(person)
                nxt.append((person, depth + 1))
            if len(people) >= 34:
                return people
        level = nxt
    return people


def _standing_orders(session: Session, rng: Random, gateway: PaymentGateway, people: list[User],
                     products: dict[str, Product], start: date, today: date,
                     rules: AutoshipRules) -> dict[str, list[AutoshipProfile]]:
    """Most people start one standing order (a few two) between ``start`` and a month later;
    the roles they will play in the story are returned by name."""
    cast: dict[str, list[AutoshipProfile]] = {"declining": [], "expiring": [], "pause": [],
                                               "cancel": [], "short": []}
    in_stock = [p for sku, p in products.items() if sku not in OUT_OF_STOCK_SKUS and p.active
                and not sku.startswith("KIT")]
    for index, person in enumerate(people):
        if rng.random() < 0.15 and person.first_name not in ("Alice", "Bob", "Dave"):
            continue  # nobody's downline is all on autoship
        for count in range(2 if rng.random() < 0.25 else 1):
            name, make_rule, regularity = rng.choice(SCHEDULES)
            chosen = rng.sample(in_stock, rng.randint(1, 3))
            role = rng.choices(("plain", "declining", "expiring", "pause", "cancel", "short"),
                               weights=(58, 7, 7, 9, 7, 12))[0]
            if role == "short":
                chosen.append(products[rng.choice(OUT_OF_STOCK_SKUS)])
            card = wallet(session, person)[0]
            if role == "declining":
                card = add_card(session, user=person, gateway=gateway, number=DECLINING_CARD,
                                exp_month=12, exp_year=today.year + 2, cvc="123",
                                cardholder=person.full_name, today=start)
            elif role == "expiring":
                card = add_card(session, user=person, gateway=gateway, number=GOOD_CARD,
                                exp_month=today.month, exp_year=today.year, cvc="123",
                                cardholder=person.full_name, today=start)
            first = start + timedelta(days=rng.randint(3, 35))
            profile = create_profile(
                session, user=person, name=name if count == 0 else f"{name} (2)",
                rule=make_rule(rng), regularity=regularity, first_date=first,
                address_id=address_book(session, person)[0].id, card_id=card.id, today=start,
                rules=rules,
                items=[(p.id, "case" if p.unit("case") and rng.random() < 0.15 else "each",
                        rng.randint(1, 3)) for p in chosen])
            if role != "plain":
                cast[role].append(profile)
    return cast


def _charge(session: Session, gateway: PaymentGateway, order_ids: list[int], day: date,
            config) -> None:
    if not order_ids:
        return
    pay_standing_orders_with_points(session, order_ids, program=current_program(session),
                                    shipping=shipping_rule(config))  # what charging.charge does first
    outcomes = call_gateway(session, gateway, prepare_charges(session, order_ids))
    result = record_outcomes(session, outcomes, today=day, retry_days=retry_days(config))
    tell_payment_outcomes(session, result, base_url=config["BASE_URL"])


def _spend_points(session: Session, gateway: PaymentGateway, config, person: User, day: date) -> None:
    """The person checks out the cheapest product their points pay for, with points (a refund
    later takes back points the refunded order earned: some stay on the balance), and turns
    "use my points" on for their first standing order: the ledger shows points spent as well."""
    program = current_program(session)
    left = balance_of(session, person.id)
    affordable = [p for p in session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id))
                  if 0 < program.points_price(p.each.price) <= left and p.stock and p.stock.available > 0]
    if affordable:
        product = min(affordable, key=lambda p: p.each.price)
        add_to_cart(session, user=person, product_id=product.id, unit_code="each", quantity=1, max_quantity=999)
        check_out(session, user=person, address_id=_first_address(session, person),
                  card_id=_first_card(session, person), idempotency_key="demo-points-checkout",
                  gateway=gateway, shipping=shipping_rule(config), today=day,
                  points_items=frozenset({f"{product.id}:each"}))
    profile = session.scalar(select(AutoshipProfile).where(AutoshipProfile.user_id == person.id)
                             .order_by(AutoshipProfile.id).limit(1))
    if profile is not None:
        choose_points(session, profile, True)


DEMO_CARRIERS = (("UPS", "1Z5R89390{:09d}"), ("USPS", "94001118992233{:08d}"), ("FedEx", "7731{:08d}"))


def _ship_planned(session: Session, config) -> None:
    """The warehouse ships what was planned, each box with a carrier and a tracking number of
    that carrier's shape (the carrier turns with the shipment's id)."""
    run_planning(session, trigger="demo: the warehouse ships what was planned")
    for shipment_id in session.scalars(select(Shipment.id).where(
            Shipment.status == ShipmentStatus.PLANNED).order_by(Shipment.id)).all():
        release_shipment(session, actor=None, shipment_id=shipment_id)
        carrier, shape = DEMO_CARRIERS[shipment_id % len(DEMO_CARRIERS)]
        ship_shipment(session, actor=None, shipment_id=shipment_id,
                      dispatch=Dispatch(carrier=carrier, numbers=(shape.format(shipment_id),),
                                        shipped_on=company_today()),
                      urls=config["TRACKING_URLS"], base_url=config["BASE_URL"])


def seed_activity(session: Session, *, gateway: PaymentGateway, config, today: date, alice: User,
                  bob: User, dave: User, existing: list[User], products: dict[str, Product],
                  add_person: AddPerson) -> DemoActivity:
    """The downline, its standing orders and three months of runs, charges and shipments."""
    rng = Random(RANDOM_SEED)
    start = today - timedelta(days=HISTORY_DAYS)
    for sku in OUT_OF_STOCK_SKUS:
        products[sku].stock.on_hand = 0
    for sku, eaches in SCARCE_STOCK.items():
        products[sku].stock.on_hand = eaches
    session.flush()
    rules = AutoshipRules.from_config(config)
    engine_rules = engine.EngineRules.from_config(config)
    ibos_below = [p for p in existing if p.role == Role.IBO and p is not alice]
    with frozen_at(_noon(start)):
        recruits = _downline(session, rng, gateway, [alice, bob, *ibos_below], start, today,
                             add_person)
        people = [p for p in existing if p is not alice] + recruits
        cast = _standing_orders(session, rng, gateway, people, products, start, today, rules)

    pause_day, cancel_day = today - timedelta(days=30), today - timedelta(days=16)
    early_saves = {today - timedelta(days=70): cast["short"][:2], today - timedelta(days=45): cast["short"][2:5]}
    runs = 0
    for offset in range(HISTORY_DAYS):
        day = start + timedelta(days=offset)
        with frozen_at(_noon(day)):
            if day in early_saves:  # earlier months: members who skipped instead of cancelling
                _act_when_open(session, early_saves.pop(day), day, rules, lambda profile, user, n: cancellation.take_offer(
                    session, user=user, profile=profile, reason=SAVED_REASONS[(n + 1) % len(SAVED_REASONS)],
                    details="", key=f"demo-skip-{profile.id}", offer=Offer.SKIP, today=day, rules=rules,
                    day=profile.next_run_date))
            if day >= pause_day:
                # they asked to cancel and took the pause offered instead (resuming by itself or not)
                _act_when_open(session, cast["pause"], day, rules, lambda profile, user, n: cancellation.take_offer(
                    session, user=user, profile=profile, reason=SAVED_REASONS[n % len(SAVED_REASONS)],
                    details="", key=f"demo-save-{profile.id}", offer=Offer.PAUSE, today=day, rules=rules,
                    day=day + timedelta(days=40) if n % 2 else None))
            if day >= cancel_day:
                _act_when_open(session, cast["cancel"], day, rules, lambda profile, user, n: cancellation.cancel_with_reason(
                    session, user=user, profile=profile, reason=CANCEL_REASONS[n % len(CANCEL_REASONS)],
                    details=CANCEL_DETAILS[n % len(CANCEL_DETAILS)], key=f"demo-cancel-{profile.id}",
                    today=day, rules=rules))
            new_orders: list[int] = []
            if _anything_due(session, day):
                runs += 1
                run = engine.start_run(session, as_of=day, trigger="demo",
                                       chunk_size=engine_rules.chunk_size)
                for number in engine.unfinished_chunks(session, run.id):
                    engine.materialise_chunk(session, run_id=run.id, number=number, rules=engine_rules)
                session.expire_all()  # the engine moved the profiles with set-based statements
                new_orders = list(session.scalars(select(Order.id).where(
                    Order.source == OrderSource.AUTOSHIP, Order.status == OrderStatus.PENDING_PAYMENT,
                    Order.payment_attempts == 0)))
            session.flush()
            _charge(session, gateway, sorted(set(new_orders) | set(orders_due_for_retry(session, day))),
                    day, config)
            award_noted(session)  # points as on the day they were paid (a live charge commits here)
            if day == today - timedelta(days=POINTS_SPENT_DAYS_AGO):
                _spend_points(session, gateway, config, dave, day)
            if offset % SHIP_EVERY_DAYS == SHIP_EVERY_DAYS - 1:
                _ship_planned(session, config)

    for sku in OUT_OF_STOCK_SKUS:
        add_expected_arrival(session, actor=None, reference="PO-DEMO-1", supplier="Demo Supplies Inc.",
                             expected_on=today + timedelta(days=9), sku=sku, eaches=240, today=today)
    run_planning(session, trigger="demo: today's plan")
    with frozen_at(_noon(today)):
        _one_time_lines(session, [dave, bob, alice], products, today, rules, config)
    _card_expiring_before_the_next_run(session, gateway, dave, products, today, rules)
    # today's card notices, as the daily job sends them: Dave's and the downline's expiring cards
    send_card_expiry_notices(session, today=today, base_url=config["BASE_URL"])
    enable_oneclick(session, user=dave, token_hash=hash_token("demo-browser-of-dave"),
                    label="Dave's laptop (demo)", address_id=_first_address(session, dave),
                    card_id=_first_card(session, dave), today=today, now=_noon(today))
    session.flush()
    return DemoActivity(people=len(people), runs=runs,
                        profiles=session.scalar(select(func.count(AutoshipProfile.id))),
                        orders=session.scalar(select(func.count(Order.id))))


def _one_time_lines(session: Session, people: list[User], products: dict[str, Product], today: date,
                    rules: AutoshipRules, config) -> None:
    """Something added to the next shipment of each person's soonest open standing order
    ("this time only"), as the product page's button adds it."""
    on_sale = [p for sku, p in sorted(products.items()) if p.active and sku not in OUT_OF_STOCK_SKUS]
    for n, person in enumerate(people):
        if not one_time.shipment_choices(session, person, today, rules):
            continue
        choice = one_time.shipment_choices(session, person, today, rules)[0]
        for m in range(1 + n % 2):
            one_time.add_to_next_shipment(
                session, user=person, product_id=on_sale[(5 * n + 3 * m) % len(on_sale)].id,
                unit_code="each", quantity=1 + m, idempotency_key=f"demo-one-time-{person.id:06d}-{m:04d}",
                today=today, rules=rules, shipping=engine.EngineRules.from_config(config).shipping,
                profile_id=choice.id)


def _card_expiring_before_the_next_run(session: Session, gateway: PaymentGateway, dave: User,
                                       products: dict[str, Product], today: date,
                                       rules: AutoshipRules) -> AutoshipProfile:
    """Dave's "Morning coffee" first runs on the first of next month, paid with a card that
    expires this month: his notifications hold the 30-day notice (unless today is the 1st of a
    31-day month, when the run is 31 days away) and the standing order's page warns him."""
    run = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    if changes_closed((run - today).days - rules.cutoff_days - 1):
        run = (run + timedelta(days=32)).replace(day=1)
    card = add_card(session, user=dave, gateway=gateway, number=GOOD_CARD, exp_month=today.month,
                    exp_year=today.year, cvc="123", cardholder=dave.full_name, today=today)
    coffee = next(product for sku, product in sorted(products.items())
                  if product.active and sku not in OUT_OF_STOCK_SKUS and sku not in SCARCE_STOCK
                  and not sku.startswith("KIT"))
    return create_profile(session, user=dave, name="Morning coffee", rule=Recurrence.monthly(1),
                          regularity=Regularity.CALENDAR, first_date=run,
                          address_id=_first_address(session, dave), card_id=card.id,
                          items=[(coffee.id, "each", 2)], today=today, rules=rules)


def _act_when_open(session: Session, profiles: list[AutoshipProfile], day: date, rules: AutoshipRules,
                   act: Callable[[AutoshipProfile, User, int], None]) -> None:
    """Apply ``act`` to each active profile of ``profiles`` on the first day it is open for
    changes (a member cannot pause or cancel inside the cutoff either)."""
    for n, profile in enumerate(profiles):
        if profile.status == ProfileStatus.ACTIVE and \
                not changes_closed(days_until_cutoff(profile, day, rules)):
            act(profile, session.get(User, profile.user_id), n)


def _anything_due(session: Session, day: date) -> bool:
    """Whether the run of ``day`` has work: a profile due, or a pause that ends."""
    return session.scalar(select(AutoshipProfile.id).where(or_(
        and_(AutoshipProfile.status == ProfileStatus.ACTIVE, AutoshipProfile.next_run_date <= day),
        and_(AutoshipProfile.status == ProfileStatus.PAUSED, AutoshipProfile.paused_until <= day)))
        .limit(1)) is not None


def _first_address(session: Session, user: User) -> int:
    return address_book(session, user)[0].id


def _first_card(session: Session, user: User) -> int:
    return wallet(session, user)[0].id
