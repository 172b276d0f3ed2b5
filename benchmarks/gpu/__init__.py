"""The sections, plans and markdown of ``benchmarks/gpu_report.py``, one module each."""
