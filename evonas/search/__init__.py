"""The NSGA-II search: wiring, scoring set-up, progress log, front re-measurement, the reported front."""
