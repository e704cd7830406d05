import pytest
from sqlalchemy import select

from portal.catalog.models import Product
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import PASSWORD, make_admin, make_ibo, make_paid_order, make_product, make_user

ADMIN_PAGES = ["/admin/", "/admin/members", "/admin/products", "/admin/products/new",
               "/admin/orders", "/admin/outbox", "/admin/rq/"]


# What each page shows of a world with one member (and their sponsor) and their paid order.
SHOWN = {
    "/admin/": lambda w: ["<h1>Operations</h1>", "<header>Orders, last 24 h</header><p class=\"big\">1</p>",
                          "1 IBOs · 1 members"],
    "/admin/members": lambda w: ["<h1>Members</h1>", w["member"].email, w["member"].full_name],
    "/admin/products": lambda w: ["<h1>Products and stock</h1>", w["product"].name, w["product"].sku],
    "/admin/products/new": lambda w: ["<h1>New product</h1>", 'name="sku"'],
    "/admin/orders": lambda w: ["<h1>All orders</h1>", w["order"].number, "Paid"],
    "/admin/outbox": lambda w: ["<h1>Outbox</h1>", w["member"].email],
    "/admin/rq/": lambda w: ["<title>RQ dashboard</title>", "<h1>Queues"],
}


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admins_see_every_operations_page(client, session, redis, url):
    member = make_user(session, first_name="Mara", last_name="Member")
    product = make_product(session, name="Admin Tour Tea")
    world = {"member": member, "product": product,
             "order": make_paid_order(session, member, redis, product)}
    log_in(client, make_admin(session))
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert [text for text in SHOWN[url](world) if text not in page] == []


@pytest.mark.parametrize("maker", [make_user, make_ibo])
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_members_and_ibos_are_kept_out(client, session, maker, url):
    log_in(client, maker(session))
    assert client.get(url).status_code in (403, 404)


def test_anonymous_visitors_are_kept_out_of_the_rq_dashboard(client):
    assert client.get("/admin/rq/").status_code == 404


@pytest.mark.parametrize("url", ["/admin/", "/admin/orders", "/admin/autoship/", "/admin/fulfilment/"])
def test_an_anonymous_visitor_to_an_operations_page_is_sent_to_log_in_and_back(client, session, url):
    admin = make_admin(session)
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    after = client.post(location, data={"email": admin.email, "password": PASSWORD,
                                        "csrf_token": csrf_token(client)})
    assert after.headers["Location"] == url


def test_an_admin_adds_a_product_with_case_and_lot_units(client, session):
    log_in(client, make_admin(session))
    response = post_form(client, "/admin/products/new", {
        "sku": "new-1", "name": "New Thing", "category": "Test", "description": "",
        "each_price": "2.50", "each_pv": "2", "each_bv": "1.5", "case_size": "10",
        "case_price": "", "lot_size": "100", "lot_price": "200.00", "on_hand": "50"},
        page="/admin/products/new")
    assert response.status_code == 303
    product = session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert {(u.code, u.eaches_per_unit, str(u.price)) for u in product.units} == {
        ("each", 1, "2.50"), ("case", 10, "25.00"), ("lot", 100, "200.00")}
    assert product.stock.on_hand == 50


def test_a_duplicate_sku_or_bad_numbers_are_shown_beside_the_fields(client, session):
    make_product(session, sku="DUP-1")
    log_in(client, make_admin(session))
    base = {"sku": "DUP-1", "name": "X", "each_price": "1", "each_pv": "1", "each_bv": "1", "on_hand": "0"}
    response = post_form(client, "/admin/products/new", base, page="/admin/products/new")
    assert response.status_code == 422 and "already in the catalog" in response.get_data(as_text=True)
    response = post_form(client, "/admin/products/new", {**base, "sku": "OK-1", "each_price": "-3"},
                         page="/admin/products/new")
    assert response.status_code == 422


@pytest.mark.parametrize("field, value", [
    ("each_price", "sNaN"), ("each_price", "1e999999999"), ("each_pv", "NaN"), ("each_bv", "Infinity"),
    ("case_size", "1" + "0" * 400), ("on_hand", "١٢"), ("lot_price", "1" + "0" * 400),
])
def test_numbers_no_one_types_are_refused_beside_the_field(client, session, field, value):
    log_in(client, make_admin(session))
    data = {"sku": "OK-1", "name": "X", "each_price": "1", "each_pv": "1", "each_bv": "1", "on_hand": "0",
            field: value}
    response = post_form(client, "/admin/products/new", data, page="/admin/products/new")
    assert response.status_code == 422
    assert session.scalar(select(Product).where(Product.sku == "OK-1")) is None


def test_stock_is_set_and_products_withdrawn(client, session):
    product = make_product(session, on_hand=5)
    log_in(client, make_admin(session))
    assert post_form(client, f"/admin/products/{product.id}/stock", {"on_hand": "120"}).status_code == 303
    assert post_form(client, f"/admin/products/{product.id}/stock", {"on_hand": "-1"}).status_code == 422
    assert post_form(client, f"/admin/products/{product.id}/stock", {"on_hand": "x"}).status_code == 422
    assert post_form(client, "/admin/products/999999/stock", {"on_hand": "1"}).status_code == 404
    assert post_form(client, f"/admin/products/{product.id}/active", {"confirm": "yes"}).status_code == 303
    session.expire_all()
    assert product.stock.on_hand == 120 and product.active is False


def test_a_product_withdrawn_while_redis_is_down_is_withdrawn_without_an_error(
        client, session, redis_down, caplog):
    """Its profiles' cycle PV job cannot be enqueued: logged, and left to the nightly repair."""
    product = make_product(session)
    log_in(client, make_admin(session))
    assert post_form(client, f"/admin/products/{product.id}/active", {"confirm": "yes"}).status_code == 303
    session.expire_all()
    assert product.active is False
    assert "jobs.autoship.refresh_product_cycle_pv" in caplog.text and "not enqueued" in caplog.text


def test_rq_dashboard_actions_need_our_origin(client, session):
    log_in(client, make_admin(session))
    client.get("/admin/rq/")
    assert client.post("/admin/rq/queue/default/failed/empty").status_code == 403
    assert client.post("/admin/rq/queue/default/failed/empty",
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/admin/rq/requeue/default").status_code == 403
    allowed = client.post("/admin/rq/queue/default/failed/empty", headers={"Origin": "http://localhost"})
    assert allowed.status_code == 200


# --- rq-dashboard: URLs naming nothing answer 404 with a message, never a 500 ----------------

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def dashboard(client, session, redis):
    log_in(client, make_admin(session))
    client.get("/admin/rq/")
    return client


def test_compacting_an_unknown_queue_is_a_404_with_a_message(dashboard):
    # Redis answered "no such key" to rq's RENAME: a 500.
    response = dashboard.post("/admin/rq/queue/no-such-queue/compact", headers=ORIGIN)
    assert response.status_code == 404
    assert response.json == {"status": "ERROR", "message": "No such queue: 'no-such-queue'. The "
                             "queues are listed on the dashboard's first page."}


def test_compacting_an_empty_queue_is_nothing_to_do_and_a_full_one_keeps_its_jobs(dashboard):
    from portal.queues import get_queue
    assert dashboard.post("/admin/rq/queue/mail/compact", headers=ORIGIN).json == {"status": "OK"}
    queue = get_queue("default")
    kept, gone = queue.enqueue("jobs.fulfilment.plan"), queue.enqueue("jobs.fulfilment.plan")
    gone.delete(remove_from_queue=False)
    assert dashboard.post("/admin/rq/queue/default/compact", headers=ORIGIN).json == {"status": "OK"}
    assert queue.job_ids == [kept.id]


@pytest.mark.parametrize("method, url, status, message", [
    ("GET", "/admin/rq/1/view/workers", 404, "No such Redis instance"),
    ("GET", "/admin/rq/2147483647/data/queues.json", 404, "No such Redis instance"),
    ("GET", "/admin/rq/0/view/job/no-such-job", 404, "That job no longer exists"),
    ("GET", "/admin/rq/0/data/job/no-such-job.json", 404, "That job no longer exists"),
    ("POST", "/admin/rq/job/no-such-job/requeue", 404, "That job no longer exists"),
    ("GET", "/admin/rq/0/data/jobs/default/failed/0/asc/1.json", 404, "Show 1 to 200 jobs per page."),
    ("GET", "/admin/rq/0/data/jobs/default/failed/8/asc/x.json", 404, "pages are numbered from 1"),
    ("GET", "/admin/rq/0/data/jobs/default/failed/8/asc/99999999999999999999.json", 404,
     "pages are numbered from 1"),
    ("GET", "/admin/rq/0/data/jobs/default/bogus/8/asc/1.json", 404, "No such job list"),
    ("GET", "/admin/rq/0/data/jobs/default/failed/8/sideways/1.json", 404, "Order jobs by asc or dsc."),
    ("GET", "/admin/rq/0/view/jobs/no-such-queue/failed/8/asc/1", 404, "No such queue"),
    ("POST", "/admin/rq/requeue/no-such-queue", 404, "No such queue"),
    ("POST", "/admin/rq/queue/no-such-queue/failed/empty", 404, "No such queue"),
])
def test_dashboard_urls_naming_nothing_are_refused_with_a_message(dashboard, method, url, status, message):
    response = dashboard.open(url, method=method, headers=ORIGIN)
    assert response.status_code == status and message in response.get_data(as_text=True)


def test_only_a_failed_job_can_be_requeued(dashboard):
    from portal.queues import get_queue
    job = get_queue("default").enqueue("jobs.fulfilment.plan")
    response = dashboard.post(f"/admin/rq/job/{job.id}/requeue", headers=ORIGIN)
    assert response.status_code == 409
    assert response.json["message"] == "Only a failed job can be requeued; this one is not failed."
    assert get_queue("default").job_ids == [job.id]


def test_the_dashboard_still_lists_and_requeues_what_exists(dashboard):
    from rq.job import JobStatus

    from portal.queues import get_queue
    queue = get_queue("default")
    job = queue.enqueue("jobs.fulfilment.plan", "cron")
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    queue.failed_job_registry.add(job, ttl=-1)
    listed = dashboard.get("/admin/rq/0/data/jobs/default/failed/8/asc/1.json")
    assert listed.status_code == 200 and [j["id"] for j in listed.json["jobs"]] == [job.id]
    assert dashboard.get(f"/admin/rq/0/view/job/{job.id}").status_code == 200
    # The dashboard reads the job as our workers do: its function and arguments.
    detail = dashboard.get(f"/admin/rq/0/data/job/{job.id}.json").json
    assert (detail["status"], detail["origin"]) == ("failed", "default")
    assert "jobs.fulfilment.plan('cron')" in detail["description"]
    assert dashboard.post(f"/admin/rq/job/{job.id}/requeue", headers=ORIGIN).json == {"status": "OK"}
    assert queue.job_ids == [job.id]
