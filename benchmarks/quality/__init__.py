"""The settings, runs, judgement and anytime plot of ``benchmarks/search_quality.py``, one module each."""
