"""The NAS-Bench-201 search space: the cell, its numbering, the shipped tables, the data sets, NATS-Bench lookup; no torch."""
