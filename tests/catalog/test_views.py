from decimal import Decimal

from tests.conftest import log_in
from tests.factories import make_product, make_user


def test_the_catalog_lists_active_products_with_unit_prices(client, session):
    make_product(session, name="Green Tea", each_price=Decimal("7.90"), case_size=12, case_price=Decimal("90.00"))
    retired = make_product(session, name="Retired Soap")
    retired.active = False
    page = client.get("/shop/").get_data(as_text=True)
    assert "Green Tea" in page and "$7.90" in page and "Case of 12: $90.00" in page
    assert "Retired Soap" not in page


def test_search_finds_by_name_sku_or_category_and_htmx_gets_only_the_results(client, htmx, session):
    make_product(session, name="Green Tea", sku="BEV-1", category="Beverages")
    make_product(session, name="Dish Liquid", sku="HOME-1", category="Home care")
    assert "Dish Liquid" not in client.get("/shop/?q=tea").get_data(as_text=True)
    assert "Green Tea" in client.get("/shop/?q=bev-1").get_data(as_text=True)
    fragment = htmx.get("/shop/?q=home")
    body = fragment.get_data(as_text=True)
    assert "Dish Liquid" in body and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_pagination_survives_odd_page_numbers(client, session, app):
    for _ in range(app.config["CATALOG_PAGE_SIZE"] + 3):
        make_product(session)
    assert "Page 2 of 2" in client.get("/shop/?page=2").get_data(as_text=True)
    for odd, shown in (("0", 1), ("-1", 1), ("abc", 1), ("2.5", 1), ("99999999999999999999", 2)):
        response = client.get(f"/shop/?page={odd}")
        assert response.status_code == 200
        assert f"Page {shown} of 2" in response.get_data(as_text=True), odd


def test_hostile_search_text_is_harmless(client, session):
    make_product(session, name="Tea")
    for text, finds_tea in (("%", True), ("_", True), ("' OR 1=1 --", False), ("😀" * 50, False),
                            ("x" * 5000, False), ("<script>alert(1)</script>", False)):
        response = client.get("/shop/", query_string={"q": text})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        # A lone wildcard is dropped, leaving an empty search: everything, as with no text.
        assert (">Tea</a>" in page) == finds_tea and ("No products match" in page) != finds_tea


def test_the_product_page_offers_each_unit_and_unknown_or_withdrawn_products_are_404(client, session):
    product = make_product(session, name="Omega-3", case_size=6, lot_size=48)
    withdrawn = make_product(session)
    withdrawn.active = False
    page = client.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert "Case of 6" in page and "Lot of 48" in page and "Log in" in page
    for missing in (withdrawn.id, 999999):
        response = client.get(f"/shop/products/{missing}")
        assert response.status_code == 404
        assert "We do not sell that product (any more)." in response.get_data(as_text=True)


def test_a_logged_in_shopper_sees_the_add_to_cart_form(client, session):
    member, product = make_user(session), make_product(session)
    log_in(client, member)
    assert "Add to cart" in client.get(f"/shop/products/{product.id}").get_data(as_text=True)
