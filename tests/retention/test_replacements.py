"""An admin replaces a product in every standing order that holds it: counted first, run by a
real RQ worker in chunks, one standing order that cannot take it set aside with the reason,
each member told, and a retried job changing nothing twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship.lifecycle import cancel
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile
from portal.clock import company_today
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.queues import get_queue
from portal.retention import replacements
from portal.retention.models import Replacement, ReplacementSetAside, Swap
from tests.conftest import burst_worker
from tests.factories import make_address, make_admin, make_card, make_product, make_user
from tests.retention.conftest import RULES


@pytest.fixture
def catalog(session):
    old = make_product(session, name="Old tea", case_size=12)
    new = make_product(session, name="New tea", case_size=6, each_pv=Decimal("5.00"))
    return old, new


def shopper(session, redis):
    person = make_user(session)
    person.home = make_address(session, person, moniker="Home")
    person.card = make_card(session, person, redis)
    return person


def _profile(session, person, product, today, items=None, days=10):
    from portal.autoship.creation import create_profile
    from portal.autoship.recurrence import Recurrence
    return create_profile(session, user=person, name="Monthly tea", rule=Recurrence.every(1, "months"),
                          regularity="calendar", first_date=today + timedelta(days=days),
                          address_id=person.home.id, card_id=person.card.id,
                          items=items or [(product.id, "each", 2)], today=today, rules=RULES)


def test_the_count_names_standing_orders_and_members_leaving_cancelled_ones_alone(session, redis, catalog):
    old, new = catalog
    today = company_today()
    twice = shopper(session, redis)
    _profile(session, twice, old, today)
    _profile(session, twice, old, today)
    leaver = shopper(session, redis)
    cancel(session, user=leaver, profile=_profile(session, leaver, old, today), today=today, rules=RULES)
    _profile(session, shopper(session, redis), new, today)
    assert replacements.count_affected(session, old.id) == replacements.Affected(2, 1)


@pytest.mark.parametrize("choice, field, message", [
    (("old", "old", "each"), "replacement_id", "another product"),
    (("old", "new", "lot"), "unit_code", "not sold in that unit"),
    ((None, "new", "each"), "product_id", "Choose the product"),
])
def test_a_replacement_must_be_another_product_on_sale_in_that_unit(session, catalog, choice, field, message):
    old, new = catalog
    new.units[-1].active = False  # New tea is not sold by the lot
    ids = {"old": old.id, "new": new.id, None: None}
    with pytest.raises(replacements.ReplacementRefused, match=message) as refused:
        replacements.check_choice(session, ids[choice[0]], ids[choice[1]], choice[2])
    assert refused.value.field == field


def test_a_real_worker_replaces_in_chunks_sets_one_aside_and_tells_each_member(app, session, redis, catalog):
    old, new = catalog
    today = company_today()
    admin = make_admin(session)
    profiles = [_profile(session, shopper(session, redis), old, today) for _ in range(4)]
    # one already holds 998 cases of New tea: the merged line would pass the limit
    crowded = _profile(session, shopper(session, redis), old, today,
                       items=[(old.id, "each", 2), (new.id, "case", 998)])
    # one ships tomorrow (made earlier, for a date then open): its shipment is being prepared
    closing = _profile(session, shopper(session, redis), old, today)
    closing.next_run_date = today + timedelta(days=1)
    profiles[0].price_policy = "locked"
    session.flush()
    choice = replacements.check_choice(session, old.id, new.id, "case")
    started = replacements.start_replacement(session, admin=admin, choice=choice, key="k" * 24)
    session.commit()
    assert (started.profiles_total, started.members_total) == (6, 6)
    replacement_id, ids = started.id, [p.id for p in profiles]
    crowded_id, closing_id = crowded.id, closing.id
    old_id, new_id, case_price = old.id, new.id, new.unit("case").price
    session.close()

    burst_worker(app, PORTAL_AUTOSHIP_REPLACEMENT_CHUNK_SIZE="2")("default", "mail")

    done = db.session.get(Replacement, replacement_id)
    assert (done.status, done.replaced, done.set_aside) == ("done", 4, 2)
    for profile_id in ids:
        [item] = db.session.scalars(select(AutoshipItem).where(AutoshipItem.profile_id == profile_id))
        assert (item.product_id, item.unit_code, item.quantity) == (new_id, "case", 2)
        assert db.session.get(AutoshipProfile, profile_id).cycle_pv == Decimal("60.00")  # 2 × 6 × 5
    locked = db.session.scalar(select(AutoshipItem).where(AutoshipItem.profile_id == ids[0]))
    assert locked.locked_price == case_price
    reasons = dict(db.session.execute(select(ReplacementSetAside.profile_id, ReplacementSetAside.reason)).all())
    assert set(reasons) == {crowded_id, closing_id}
    assert "more than the 999" in reasons[crowded_id] and "being prepared" in reasons[closing_id]
    assert db.session.scalar(select(func.count()).select_from(AutoshipItem).where(
        AutoshipItem.product_id == old_id)) == 2  # the two set aside are left as they were
    history = db.session.scalars(select(AutoshipEvent.details).where(AutoshipEvent.action == "item replaced")).all()
    assert len(history) == 4 and all("2 eaches of Old tea replaced by 2 cases of New tea" in h for h in history)
    mail = db.session.scalars(select(OutboxMessage)).all()
    assert len(mail) == 4 and all(m.status == "held" for m in mail)
    assert all("Old tea is no longer sold" in m.body and "/autoship/" in m.body for m in mail)
    assert get_queue("default").failed_job_registry.count == 0


def test_a_retried_replacement_changes_nothing_twice(app, session, redis, catalog, run_worker):
    old, new = catalog
    today = company_today()
    admin = make_admin(session)
    for _ in range(3):
        _profile(session, shopper(session, redis), old, today)
    choice = replacements.check_choice(session, old.id, new.id, "each")
    started = replacements.start_replacement(session, admin=admin, choice=choice, key="r" * 24)
    again = replacements.start_replacement(session, admin=admin, choice=choice, key="r" * 24)
    assert again.id == started.id  # the confirmation sent twice starts one replacement
    session.commit()
    replacement_id = started.id
    session.close()
    run_worker("default")
    # RQ (or an admin) runs the same job again, even after it finished, and a third time after
    # the status was lost: nothing is swapped, noted or mailed a second time
    get_queue("default").enqueue("jobs.retention.replace_product", replacement_id)
    run_worker("default")
    db.session.get(Replacement, replacement_id).status = "failed"
    db.session.commit()
    get_queue("default").enqueue("jobs.retention.replace_product", replacement_id)
    run_worker("default")
    done = db.session.get(Replacement, replacement_id)
    assert (done.status, done.replaced, done.set_aside) == ("done", 3, 0)
    assert db.session.scalar(select(func.count()).select_from(Swap)) == 3
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
    assert db.session.scalar(select(func.count()).select_from(AutoshipEvent).where(
        AutoshipEvent.action == "item replaced")) == 3
