"""Fulfilment: planning which open orders ship now."""

from portal.fulfilment.planner import OpenOrder, OrderLine, Pick, Shipment, plan_shipments

__all__ = ["plan_shipments", "OpenOrder", "OrderLine", "Shipment", "Pick"]

# Inventory, planning runs and the plan they save: models, planning (the run), coordination
# (coalesced requests, one run at a time), services, queries, views. Other concepts ask for a
# run after a change the plan depends on with services.request_planning(session, reason).
from portal.fulfilment.services import request_planning  # noqa: E402

__all__ += ["request_planning"]
