"""Fulfilment: planning which open orders ship now."""

from portal.fulfilment.planner import OpenOrder, OrderLine, Pick, Shipment, plan_shipments

__all__ = ["plan_shipments", "OpenOrder", "OrderLine", "Shipment", "Pick"]
