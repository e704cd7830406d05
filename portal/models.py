"""Every model, imported in one place so Alembic and the tests see the whole schema."""

from portal.accounts.models import AuditEntry, LoginSession, User  # noqa: F401
from portal.addresses.models import Address  # noqa: F401
from portal.autoship.models import (AutoshipEvent, AutoshipItem,  # noqa: F401
                                    AutoshipOccurrence, AutoshipPreference, AutoshipProfile,
                                    AutoshipReminder, AutoshipRun, AutoshipRunChunk, AutoshipSkip,
                                    CalendarFeed)
from portal.cart.models import CartLine  # noqa: F401
from portal.catalog.models import Product, ProductUnit, StockLevel  # noqa: F401
from portal.fulfilment.models import (InventoryReceipt, PlanningRun, PurchaseOrder,  # noqa: F401
                                      PurchaseOrderLine, Shipment, ShipmentPick)
from portal.loyalty.models import (LoyaltyProgram, PointsAccount, PointsEntry,  # noqa: F401
                                   PointsOnStandingOrder)
from portal.mail.models import OutboxMessage  # noqa: F401
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting  # noqa: F401
from portal.orders.models import (ChargeAttempt, Order, OrderLine, OrderStatusChange,  # noqa: F401
                                  Refund, RefundLine)
from portal.payments.models import PaymentMethod  # noqa: F401
from portal.volume.models import (HighestRank, OrderRefundVolume, PersonVolume,  # noqa: F401
                                  RankPlanVersion, VolumeAdjustment, VolumePeriod)
from portal.retention.models import (Cancellation, Replacement,  # noqa: F401
                                     ReplacementSetAside, Swap)
from portal.support.models import StaffNote  # noqa: F401
