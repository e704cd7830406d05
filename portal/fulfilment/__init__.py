"""Fulfilment: planning which open orders ship now."""

from portal.fulfilment.planner import OpenOrder, OrderLine, Pick, Shipment, plan_shipments

__all__ = ["plan_shipments", "OpenOrder", "OrderLine", "Shipment", "Pick"]

# Inventory, planning runs and the plan they save: models, planning (the run), coordination
# (planning requests, coalesced; one run at a time), receiving (receipts and expected
# arrivals), csv_imports, shipments (release and ship), queries, views. Other concepts ask for
# a run after a change the plan depends on with coordination.request_planning(session, reason).
