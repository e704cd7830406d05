"""Reading a 1-Click press from its form: the rules and messages of the WTForms form it
replaced (a plain reader is a tenth of a press cheaper), held against that form itself."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form, StringField
from wtforms.validators import AnyOf, InputRequired, NumberRange, Regexp

from portal.forms import IntegerField
from portal.ids import MAX_ID
from portal.oneclick.forms import KEY_REGEXP, InvalidPress, PressInput, read_press

NOT_VALID = "This 1-Click button is not valid. Reload the page and try again."
KEY = "k" * 24


class ReferenceForm(Form):
    """The WTForms form a press was read with before: the specification of read_press."""

    product_id = IntegerField(validators=[
        InputRequired("Choose a product."), NumberRange(min=1, max=MAX_ID, message="Choose a product.")])
    unit = StringField(validators=[
        InputRequired("Choose a unit."), AnyOf(("each", "case", "lot"), message="Choose each, case or lot.")])
    quantity = IntegerField(validators=[
        InputRequired("Enter a quantity from 1 to 999."),
        NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
    person = IntegerField(validators=[
        InputRequired("Choose who is ordering."),
        NumberRange(min=1, max=MAX_ID, message="Choose who is ordering.")])
    idempotency_key = StringField(validators=[InputRequired(NOT_VALID), Regexp(KEY_REGEXP, message=NOT_VALID)])
    compact = BooleanField()


def press(**changes) -> MultiDict:
    fields = {"product_id": "7", "unit": "case", "quantity": "2", "person": "12",
              "idempotency_key": KEY, **changes}
    return MultiDict({name: value for name, value in fields.items() if value is not None})


def test_a_press_is_read_into_its_values():
    assert read_press(press(compact="y")) == PressInput(
        product_id=7, unit="case", quantity=2, person=12, idempotency_key=KEY, compact=True)
    assert read_press(press()).compact is False and read_press(press(compact="false")).compact is False


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
def test_each_refusal_says_what_is_wrong(changes, message):
    with pytest.raises(InvalidPress) as refused:
        read_press(press(**changes))
    assert str(refused.value) == message


def test_every_problem_is_told_once_in_the_order_of_the_fields():
    with pytest.raises(InvalidPress) as refused:
        read_press(press(product_id="x", quantity="0", person="x", idempotency_key=""))
    assert str(refused.value) == ("Not a valid integer value. Choose a product. "
                                  "Enter a quantity from 1 to 999. Choose who is ordering. " + NOT_VALID)


NUMBERS = st.one_of(st.none(), st.sampled_from(["", " ", "0", "1", "-1", "+5", " 42 ", "1_000",
                                               "1e3", str(MAX_ID), str(MAX_ID + 1), "999", "1000"]),
                    st.integers(-10**12, 10**12).map(str), st.text(max_size=6))
TEXTS = st.one_of(st.none(), st.sampled_from(["", "each", "case", "lot", "Each", " each", "false"]),
                  st.text(max_size=6))
KEYS = st.one_of(st.none(), st.just(KEY), st.just(KEY + "\n"), st.text(max_size=90),
                 st.from_regex(r"[A-Za-z0-9_-]{10,90}", fullmatch=True))


@settings(max_examples=400, deadline=None)
@given(product_id=NUMBERS, unit=TEXTS, quantity=NUMBERS, person=NUMBERS, key=KEYS, compact=TEXTS)
def test_the_reader_agrees_with_the_form_it_replaced(product_id, unit, quantity, person, key,
                                                     compact):
    formdata = press(product_id=product_id, unit=unit, quantity=quantity, person=person,
                     idempotency_key=key, compact=compact)
    form = ReferenceForm(formdata)
    if form.validate():
        assert read_press(formdata) == PressInput(
            product_id=form.product_id.data, unit=form.unit.data, quantity=form.quantity.data,
            person=form.person.data, idempotency_key=form.idempotency_key.data,
            compact=form.compact.data)
    else:
        with pytest.raises(InvalidPress) as refused:
            read_press(formdata)
        expected = " ".join(dict.fromkeys(m for errors in form.errors.values() for m in errors))
        assert str(refused.value) == expected
