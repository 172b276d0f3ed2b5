"""Showing a run's front: the view model, the PNG and HTML drawings, the end-of-run report (no torch)."""
