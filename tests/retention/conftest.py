from tests.autoship.conftest import RULES, TODAY, member, new_profile, product, shopper  # noqa: F401
