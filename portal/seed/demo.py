"""Demo data: people in a genealogy, a catalog sold by the each, case and lot, addresses and
sandbox cards, and (``portal.seed.demo_activity``) three months of standing orders, runs,
payments and shipments in Alice's and Bob's downline. Every password is printed by the command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.accounts.services import create_admin
from portal.addresses.services import add_address
from portal.catalog.services import create_product
from portal.genealogy.services import place_in_tree
from portal.payments.gateway import PaymentGateway
from portal.payments.services import add_card
from portal.seed.demo_activity import DemoActivity, seed_activity

DEMO_PASSWORD = "standing-order-demo"
DEMO_LOGINS = [  # (what the account shows, email)
    ("admin", "admin@standing-order.example"),
    ("IBO with a 4-level downline", "alice@standing-order.example"),
    ("IBO", "bob@standing-order.example"),
    ("member", "dave@standing-order.example"),
]

PRODUCTS = [  # sku, name, category, each price, PV per each, case size, lot size
    ("VIT-001", "Daily Multivitamin (60 tablets)", "Nutrition", "24.95", "18.00", 6, 48),
    ("VIT-002", "Vitamin D3 2000 IU", "Nutrition", "12.50", "9.00", 12, 96),
    ("VIT-003", "Omega-3 Fish Oil", "Nutrition", "29.00", "21.00", 6, 48),
    ("VIT-004", "Magnesium Glycinate", "Nutrition", "18.75", "13.50", 12, None),
    ("VIT-005", "Probiotic 20 Billion", "Nutrition", "34.00", "25.00", 6, 36),
    ("PRO-010", "Plant Protein Vanilla (1 kg)", "Sports", "39.90", "30.00", 4, 32),
    ("PRO-011", "Plant Protein Chocolate (1 kg)", "Sports", "39.90", "30.00", 4, 32),
    ("PRO-012", "Electrolyte Drink Mix", "Sports", "21.00", "15.00", 10, 80),
    ("PRO-013", "Energy Bar Peanut (box of 12)", "Sports", "26.40", "19.00", 8, None),
    ("HOME-100", "Concentrated Dish Liquid", "Home care", "9.95", "6.50", 12, 144),
    ("HOME-101", "Laundry Detergent Pods (40)", "Home care", "18.90", "13.00", 6, 72),
    ("HOME-102", "Multi-Surface Cleaner", "Home care", "8.50", "5.50", 12, 144),
    ("HOME-103", "Glass Cleaner", "Home care", "7.25", "4.75", 12, 144),
    ("HOME-104", "Dishwasher Tablets (50)", "Home care", "15.60", "11.00", 6, 72),
    ("HOME-105", "Fabric Softener", "Home care", "11.40", "8.00", 6, 72),
    ("HOME-106", "Bathroom Descaler", "Home care", "8.90", "6.00", 12, None),
    ("CARE-200", "Daily Moisturiser SPF 30", "Personal care", "28.00", "20.00", 6, None),
    ("CARE-201", "Gentle Face Wash", "Personal care", "16.50", "12.00", 12, 96),
    ("CARE-202", "Fluoride Toothpaste", "Personal care", "4.95", "3.20", 24, 288),
    ("CARE-203", "Herbal Shampoo", "Personal care", "12.80", "9.00", 12, 96),
    ("CARE-204", "Conditioner", "Personal care", "12.80", "9.00", 12, 96),
    ("CARE-205", "Body Lotion Unscented", "Personal care", "14.20", "10.00", 12, None),
    ("CARE-206", "Deodorant Natural", "Personal care", "8.60", "6.00", 12, 144),
    ("BEV-300", "Green Tea (40 bags)", "Beverages", "7.90", "5.00", 12, 144),
    ("BEV-301", "Organic Coffee Beans (500 g)", "Beverages", "17.50", "12.00", 6, 48),
    ("BEV-302", "Herbal Sleep Tea (20 bags)", "Beverages", "6.90", "4.50", 12, 144),
    ("BEV-303", "Cocoa Drink Mix", "Beverages", "11.20", "8.00", 8, None),
    ("KIT-400", "Starter Kit for New IBOs", "Business", "99.00", "100.00", None, None),
    ("KIT-401", "Product Catalog Booklets (25)", "Business", "15.00", "0.00", 4, None),
    ("KIT-402", "Sample Sachets Assortment", "Business", "22.00", "10.00", 10, None),
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str
    member_number: str


def _person(session: Session, email: str, first: str, last: str, role: str,
            sponsor: User | None, password_hash: str) -> User:
    user = User(email=email, first_name=first, last_name=last, role=role,
                password_hash=password_hash, member_number="")
    session.add(user)
    session.flush()
    user.member_number = f"{10_000_000 + user.id}"
    place_in_tree(session, user, sponsor)
    return user


def database_is_empty(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is None


def seed_demo(session: Session, gateway: PaymentGateway, today: date,
              config) -> tuple[list[DemoLogin], DemoActivity]:
    """The demo data, in the caller's transaction; ``config`` gives the engine's, payments' and
    mail's settings. Returns the logins to print and what the replayed history holds."""
    password_hash = hash_password(DEMO_PASSWORD)
    root = _person(session, "company@standing-order.example", "Standing Order", "Company",
                   Role.IBO, None, password_hash)
    admin = create_admin(session, email="admin@standing-order.example", password=DEMO_PASSWORD,
                         first_name="Ada", last_name="Admin")
    alice = _person(session, "alice@standing-order.example", "Alice", "Anderson", Role.IBO, root,
                    password_hash)
    level1 = [_person(session, f"{first.lower()}@standing-order.example", first, last, role,
                      alice, password_hash)
              for first, last, role in (("Bob", "Baker", Role.IBO), ("Carol", "Chen", Role.IBO),
                                        ("Dave", "Diaz", Role.MEMBER))]
    level2 = [_person(session, f"{first.lower()}@standing-order.example", first, last, role,
                      sponsor, password_hash)
              for first, last, role, sponsor in (
                  ("Erin", "Evans", Role.IBO, level1[0]), ("Frank", "Fischer", Role.MEMBER, level1[0]),
                  ("Grace", "Green", Role.MEMBER, level1[1]), ("Heidi", "Hall", Role.IBO, level1[1]))]
    level3 = [_person(session, f"{first.lower()}@standing-order.example", first, last, Role.MEMBER,
                      sponsor, password_hash)
              for first, last, sponsor in (("Ivan", "Ito", level2[0]), ("Judy", "Jones", level2[0]),
                                           ("Ken", "King", level2[3]))]
    people = [alice, *level1, *level2, *level3]
    cities = [("Springfield", "IL", "62704"), ("Madison", "WI", "53703"),
              ("Austin", "TX", "78701"), ("Portland", "OR", "97205")]
    for index, person in enumerate(people):
        city, region, postal = cities[index % len(cities)]
        add_address(session, user=person, moniker="Home", full_name=person.full_name,
                    line1=f"{100 + index} Maple Street", city=city, region=region,
                    postal_code=postal, country="US")
        if index % 3 == 0:
            add_address(session, user=person, moniker="Office", full_name=person.full_name,
                        line1=f"{500 + index} Commerce Avenue", line2="Suite 200", city=city,
                        region=region, postal_code=postal, country="US")
        add_card(session, user=person, gateway=gateway, number="4242424242424242",
                 exp_month=12, exp_year=today.year + 3, cvc="123", cardholder=person.full_name,
                 today=today)
    add_card(session, user=alice, gateway=gateway, number="5555555555554444", exp_month=6,
             exp_year=today.year + 2, cvc="321", cardholder=alice.full_name, today=today)
    add_card(session, user=alice, gateway=gateway, number="4000000000000002", exp_month=6,
             exp_year=today.year + 2, cvc="321", cardholder=alice.full_name, today=today)

    products = {}
    for index, (sku, name, category, price, pv, case, lot) in enumerate(PRODUCTS):
        each_price, each_pv = Decimal(price), Decimal(pv)
        products[sku] = create_product(session, sku=sku, name=name, category=category,
                       description=f"{name}. A {category.lower()} favourite, sold by the each"
                                   + (f", by the case of {case}" if case else "")
                                   + (f" and by the lot of {lot}" if lot else "") + ".",
                       each_price=each_price, each_pv=each_pv, each_bv=each_pv * Decimal("0.8"),
                       case_size=case,
                       case_price=(each_price * case * Decimal("0.95")).quantize(Decimal("0.01")) if case else None,
                       lot_size=lot,
                       lot_price=(each_price * lot * Decimal("0.88")).quantize(Decimal("0.01")) if lot else None,
                       on_hand=0 if index % 10 == 9 else 200 + 37 * index)
    session.flush()
    activity = seed_activity(
        session, gateway=gateway, config=config, today=today, alice=alice, bob=level1[0],
        dave=level1[2], existing=people, products=products,
        add_person=lambda email, first, last, role, sponsor: _person(
            session, email, first, last, role, sponsor, password_hash))
    compute_demo_volume(session, admin, today)
    return [DemoLogin("admin", admin.email, admin.full_name, admin.member_number),
            DemoLogin("IBO (4-level downline)", alice.email, alice.full_name, alice.member_number),
            DemoLogin("IBO", level1[0].email, level1[0].full_name, level1[0].member_number),
            DemoLogin("member", level1[2].email, level1[2].full_name, level1[2].member_number)], activity


def compute_demo_volume(session: Session, admin: User, today: date) -> None:
    """The example rank plan saved as version 1, and volume and ranks computed for every month
    the replayed history touched: months before last month are closed, as an admin would have
    closed them; last month and this month stay open."""
    from portal.volume.computation import close_period, recompute_period
    from portal.volume.periods import add_months, first_of_month
    from portal.volume.plan import EXAMPLE_PLAN
    from portal.volume.rank_plans import save_plan

    this_month = first_of_month(today)
    save_plan(session, EXAMPLE_PLAN, effective_from=add_months(this_month, -12), actor=admin,
              note="The example unilevel plan of six ranks.")
    for back in range(4, 0, -1):
        period = add_months(this_month, -back)
        if back >= 2:
            close_period(session, period, actor=admin)
        else:
            recompute_period(session, period)
    recompute_period(session, this_month)
