"""The payment gateway interface and a sandbox that behaves like a processor's test mode.

The portal only ever holds the gateway's token, the brand, the last four digits and the
expiry. The sandbox keeps its ledger in Redis, outside the portal's database transaction, the
way a real processor's ledger is outside it: a charge that succeeded stays succeeded even if
the portal's transaction rolls back, and a retry with the same idempotency key returns it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

import redis

from portal.errors import DomainError


class CardRejected(DomainError):
    """The card details cannot be used (bad number, expired, wrong security code)."""


class PaymentDeclined(DomainError):
    """The processor declined the charge; ``code`` says why."""

    status = 402

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class GatewayUnavailable(DomainError):
    """A temporary processing error: nothing was charged, trying again later may work."""

    status = 503


class IdempotencyConflict(DomainError):
    """The same idempotency key was sent with a different request."""


class GatewayTimeout(GatewayUnavailable):
    """The processor did not answer in time: whether it acted is unknown. Sending the same
    request again with the same idempotency key is safe, and finds out."""

    status = 504


class RefundRefused(DomainError):
    """The processor refuses the refund (more than is left of the charge, an unknown charge)."""

    status = 409


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Charge:
    id: str
    token: str
    amount: str
    currency: str
    status: str  # "succeeded" or "declined"
    decline_code: str = ""


@dataclass(frozen=True)
class Refund:
    id: str
    charge_id: str
    amount: str
    currency: str
    status: str  # "succeeded"


class PaymentGateway(Protocol):
    name: str

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str, *,
                 today: date) -> CardToken: ...

    def charge(self, token: str, amount: Decimal, currency: str, *,
               idempotency_key: str) -> Charge: ...

    def refund(self, charge_id: str, amount: Decimal, currency: str, *,
               idempotency_key: str) -> Refund: ...


BRAND_RULES = (  # (brand, prefixes, lengths, cvc length)
    ("Amex", ("34", "37"), (15,), 4),
    ("Visa", ("4",), (13, 16, 19), 3),
    ("Mastercard", tuple(str(p) for p in range(51, 56)) + tuple(str(p) for p in range(2221, 2721)),
     (16,), 3),
    ("Discover", ("6011", "65") + tuple(str(p) for p in range(644, 650)), (16, 17, 18, 19), 3),
)

DECLINE_MESSAGES = {
    "card_declined": "Your card was declined. Try another card or contact your bank.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "The card's security code was declined.",
}

# Well-known test numbers, as in a processor's test mode; every other valid number succeeds.
SANDBOX_BEHAVIOUR = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000119": "processing_error",
}


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> tuple[str, int] | None:
    for brand, prefixes, lengths, cvc_length in BRAND_RULES:
        if len(number) in lengths and number.startswith(prefixes):
            return brand, cvc_length
    return None


def validate_card(number: str, exp_month: int, exp_year: int, cvc: str, today: date) -> str:
    """The brand of a usable card; raises CardRejected with the reason otherwise."""
    digits = "".join(ch for ch in number if ch not in " -")
    # isascii(): str.isdigit() also accepts '²' or '٤', which int() then refuses or misreads.
    if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19:
        raise CardRejected("Enter the card number: 12 to 19 digits.", "number")
    if not luhn_valid(digits):
        raise CardRejected("That card number is not valid. Check it for typing mistakes.", "number")
    brand = card_brand(digits)
    if brand is None:
        raise CardRejected("We accept Visa, Mastercard, American Express and Discover.", "number")
    if not 1 <= exp_month <= 12:
        raise CardRejected("The expiry month must be between 1 and 12.", "exp_month")
    if (exp_year, exp_month) < (today.year, today.month):
        raise CardRejected("That card has expired.", "exp_year")
    if exp_year > today.year + 20:
        raise CardRejected("That expiry year is too far in the future.", "exp_year")
    name, cvc_length = brand
    if not (cvc.isascii() and cvc.isdigit() and len(cvc) == cvc_length):
        raise CardRejected(f"The security code of a {name} card has {cvc_length} digits.", "cvc")
    return name


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


# KEYS: the refund's record (by idempotency key), the cents refunded of the charge so far.
# ARGV: the refund as JSON, its cents, the charge's cents. Answers the record already kept for
# the key, or "over" with the cents refunded so far, or the new record.
_REFUND_SCRIPT = """
local kept = redis.call('GET', KEYS[1])
if kept then return {'kept', kept} end
local refunded = tonumber(redis.call('GET', KEYS[2]) or '0')
if refunded + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return {'over', tostring(refunded)} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[2])
return {'new', ARGV[1]}
"""


class SandboxGateway:
    name = "sandbox"
    KEY_PREFIX = "sandbox-gateway:"
    REFUND_FAULTS_KEY = KEY_PREFIX + "faults:refund"

    def __init__(self, connection: redis.Redis):
        self.redis = connection

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str, *,
                 today: date) -> CardToken:
        brand = validate_card(number, exp_month, exp_year, cvc, today)
        digits = "".join(ch for ch in number if ch.isdigit())
        behaviour = SANDBOX_BEHAVIOUR.get(digits, "ok")
        # The token says how the test card behaves, so it works without the sandbox's memory.
        token = f"tok_{behaviour}_{secrets.token_hex(12)}"
        return CardToken(token=token, brand=brand, last4=digits[-4:], exp_month=exp_month,
                         exp_year=exp_year)

    def charge(self, token: str, amount: Decimal, currency: str, *,
               idempotency_key: str) -> Charge:
        if amount <= 0:
            raise ValueError("charges are positive")
        key = f"{self.KEY_PREFIX}charge:{idempotency_key}"
        stored = self.redis.get(key)
        if stored is None:
            charge = self._decide(token, amount, currency)
            if charge is None:  # a processing error is not recorded: a retry may succeed
                raise GatewayUnavailable("The payment processor did not answer. "
                                         "Nothing was charged; please try again.")
            if not self.redis.set(key, json.dumps(asdict(charge)), nx=True):
                stored = self.redis.get(key)  # a concurrent request with the same key won
            elif charge.status == "succeeded":  # refunds name the charge by its id
                self.redis.set(f"{self.KEY_PREFIX}charge-id:{charge.id}", key)
        charge = Charge(**json.loads(stored)) if stored is not None else charge
        if charge.token != token or Decimal(charge.amount) != amount:
            raise IdempotencyConflict("This payment was already attempted with other details.")
        if charge.status == "declined":
            raise PaymentDeclined(charge.decline_code, DECLINE_MESSAGES[charge.decline_code])
        return charge

    def refund(self, charge_id: str, amount: Decimal, currency: str, *,
               idempotency_key: str) -> Refund:
        """Give back ``amount`` of a charge, once per ``idempotency_key``. The refunds of one
        charge never add up to more than it: checked and written in one Lua script, so two
        refunds at once cannot both pass the check."""
        if amount <= 0:
            raise ValueError("refunds are positive")
        fault = self.redis.lpop(self.REFUND_FAULTS_KEY)
        if fault == b"before":
            raise GatewayTimeout("The payment processor did not answer in time.")
        charge_key = self.redis.get(f"{self.KEY_PREFIX}charge-id:{charge_id}")
        stored = self.redis.get(charge_key) if charge_key else None
        charge = Charge(**json.loads(stored)) if stored else None
        if charge is None or charge.status != "succeeded":
            raise RefundRefused("The payment processor knows no such charge to refund.")
        refund = Refund(f"re_{secrets.token_hex(12)}", charge_id, str(amount), currency,
                        "succeeded")
        answer, value = self._refund_script(
            keys=[f"{self.KEY_PREFIX}refund:{idempotency_key}",
                  f"{self.KEY_PREFIX}refunded:{charge_id}"],
            args=[json.dumps(asdict(refund)), _cents(amount), _cents(Decimal(charge.amount))])
        if answer == b"over":
            left = (Decimal(charge.amount) - Decimal(int(value)) / 100).quantize(Decimal("0.01"))
            raise RefundRefused(f"The payment processor refuses to refund more than was charged: "
                                f"{left} of {charge.amount} {currency} is left to refund.")
        refund = Refund(**json.loads(value))
        if refund.charge_id != charge_id or Decimal(refund.amount) != amount:
            raise IdempotencyConflict("This refund was already made with other details.")
        if fault == b"after":  # the processor refunded, but its answer never came back
            raise GatewayTimeout("The payment processor did not answer in time.")
        return refund

    def refunds_for(self, idempotency_key: str) -> Refund | None:
        stored = self.redis.get(f"{self.KEY_PREFIX}refund:{idempotency_key}")
        return Refund(**json.loads(stored)) if stored else None

    def simulate_refund_timeouts(self, *modes: str) -> None:
        """Sandbox faults, as a processor's test mode offers: each of the next refunds times out,
        ``"before"`` refunding (nothing happened) or ``"after"`` (the money went back, the answer
        was lost). Kept in Redis, so a web process and a test share them."""
        if any(mode not in ("before", "after") for mode in modes):
            raise ValueError("a refund timeout comes before or after refunding")
        self.redis.rpush(self.REFUND_FAULTS_KEY, *modes)

    @property
    def _refund_script(self):
        return self.redis.register_script(_REFUND_SCRIPT)

    def _decide(self, token: str, amount: Decimal, currency: str) -> Charge | None:
        parts = token.split("_")
        behaviour = "_".join(parts[1:-1]) if len(parts) >= 3 and parts[0] == "tok" else ""
        if behaviour == "processing_error":
            return None
        charge_id = f"ch_{secrets.token_hex(12)}"
        if behaviour in DECLINE_MESSAGES:
            return Charge(charge_id, token, str(amount), currency, "declined", behaviour)
        if behaviour != "ok":
            return Charge(charge_id, token, str(amount), currency, "declined", "card_declined")
        return Charge(charge_id, token, str(amount), currency, "succeeded")

    def charges_for(self, idempotency_key: str) -> Charge | None:
        stored = self.redis.get(f"{self.KEY_PREFIX}charge:{idempotency_key}")
        return Charge(**json.loads(stored)) if stored else None
