"""Single-action (1-Click) ordering: browsers carry a client identifier tied to people's stored
address and card; one action orders an item, orders close together are combined, and a job
charges them when the combining window closes."""
