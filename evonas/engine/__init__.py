"""Scoring many cells: evaluation records, the scorer worker, pools (serial, Ray), the score cache, the evaluator.

Import the modules themselves (``evonas.engine.records``, ``.scorer``, ``.pool``, ``.ray_pool``,
``.cluster``, ``.cache``, ``.evaluator``, ``.batch``): this package imports nothing, so reading
an ``Evaluation`` loads no torch.
"""
