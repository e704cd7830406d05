"""Reading a 1-Click press from its form: what is accepted, and what each refusal says."""

import pytest

from portal.ids import MAX_ID
from portal.oneclick.forms import PressForm

NOT_VALID = "This 1-Click button is not valid. Reload the page and try again."
KEY = "k" * 24


def submitted(app, **changes) -> PressForm:
    fields = {"product_id": "7", "unit": "case", "quantity": "2", "person": "12",
              "idempotency_key": KEY, **changes}
    with app.test_request_context("/1-click/buy", method="POST", data={
            name: value for name, value in fields.items() if value is not None}):
        form = PressForm()
        form.validate()
        return form


def test_a_press_is_read_into_its_values(app):
    form = submitted(app, compact="y")
    assert not form.errors
    assert (form.product_id.data, form.unit.data, form.quantity.data, form.person.data,
            form.idempotency_key.data, form.compact.data) == (7, "case", 2, 12, KEY, True)
    assert submitted(app).compact.data is False
    assert submitted(app, compact="false").compact.data is False


@pytest.mark.parametrize("changes, message", [
    ({"product_id": None}, "Choose a product."),
    ({"product_id": "0"}, "Choose a product."),
    ({"product_id": str(MAX_ID + 1)}, "Choose a product."),
    ({"product_id": "1" * 400}, "Not a valid integer value. Choose a product."),
    ({"unit": ""}, "Choose a unit."),
    ({"unit": "pallet"}, "Choose each, case or lot."),
    ({"quantity": "1000"}, "Enter a quantity from 1 to 999."),
    ({"quantity": "two"}, "Not a valid integer value. Enter a quantity from 1 to 999."),
    ({"quantity": "١٢"}, "Not a valid integer value. Enter a quantity from 1 to 999."),
    ({"person": ""}, "Choose who is ordering."),
    ({"idempotency_key": "short"}, NOT_VALID),
    ({"idempotency_key": "k" * 20 + "/"}, NOT_VALID),
])
def test_each_refusal_says_what_is_wrong(app, changes, message):
    assert submitted(app, **changes).problems() == message


def test_every_problem_is_told_once_in_the_order_of_the_fields(app):
    form = submitted(app, product_id="x", quantity="0", person="x", idempotency_key="")
    assert form.problems() == ("Not a valid integer value. Choose a product. "
                               "Enter a quantity from 1 to 999. Choose who is ordering. " + NOT_VALID)
