"""Ray for the report: is it importable, a local Ray over the whole machine, and a scorer pool of the plan's shape.

The report starts Ray itself rather than through ``evonas.engine.cluster.start_ray``: it asks
for every CPU (``os.cpu_count()``) and GPU explicitly, so that the pool section's actor counts,
which it derives from the same counts, fit, whatever Ray would detect in a container.
"""
from __future__ import annotations

import os

import torch

from gpu.plan import Context


def ray_available() -> str:
    """'' when Ray can be imported, else why not."""
    try:
        import ray  # noqa: F401
    except Exception as err:  # noqa: BLE001
        return f"ray cannot be imported ({type(err).__name__}: {err})"
    return ""


def start_local_ray() -> bool:
    """Start a local Ray with every CPU and GPU of this machine, unless one runs; True if started here."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(num_cpus=os.cpu_count() or 1, num_gpus=torch.cuda.device_count(), include_dashboard=False,
             logging_level="ERROR")
    return True


def stop_ray(started: bool) -> None:
    """Shut Ray down when this process started it."""
    if started:
        import ray

        ray.shutdown()


def make_plan_pool(ctx: Context, scores: str | tuple[str, ...], *, device: str, actors: int, per_gpu: int = 1,
                   backend: str = "ray", cpu_actors: int | str = 0):
    """A scorer pool for ``scores`` with the plan's network shape and score settings."""
    from evonas.config.schema import RayConfig
    from evonas.engine.pool import make_pool
    from evonas.engine.records import ScorerSpec
    from evonas.datasets import dataset_spec

    scores = (scores,) if isinstance(scores, str) else scores
    settings = {n: ctx.plan.score_settings[n] for n in scores if n in ctx.plan.score_settings}
    spec = ScorerSpec(scores=scores, settings=settings, dataset=dataset_spec(ctx.dataset), seed=ctx.seed,
                      C=ctx.plan.C, N=ctx.plan.N, device=device)
    if backend == "serial":
        return make_pool(spec, RayConfig(backend="serial"))
    return make_pool(spec, RayConfig(num_actors=actors, actors_per_gpu=per_gpu, cpu_actors=cpu_actors))
