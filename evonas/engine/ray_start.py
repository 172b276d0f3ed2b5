"""Starting a Ray pool's actors: the plan for the cluster, the images shipped to them, one actor class per kind,
and the wait for them, which checks that every worker runs the driver's evonas, torch and Python.

How an actor asks Ray for resources has one home: ``ActorPlan.ray_options`` (``evonas.engine.placement``).
The driver reads the scoring images once and puts them in Ray's object store (``ship_images``): no
actor reads ``data.root``, so a node without the data, or with another copy of it, scores the same images.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping

from evonas.config.schema import RayConfig
from evonas.engine.placement import ActorPlan, plan_actors
from evonas.engine.records import ScorerSpec
from evonas.engine.scheduler import first_line
from evonas.engine.scorer import Scorer, versions
from evonas.errors import EvonasError
from evonas.nn.images import load_images
from evonas.scores import get_score

__all__ = ["runs_beside_gpu", "plan_pool", "ship_images", "actor_classes", "await_start", "check_versions",
           "first_line"]

log = logging.getLogger("evonas")


def runs_beside_gpu(name: str) -> bool:
    """Whether CPU actors beside GPU actors take score ``name``: it runs no network on the scoring
    images (``needs`` neither data, labels nor gpu) and times nothing (not ``exclusive``),
    e.g. FLOPs and parameter counts, table look-ups, synflow."""
    return not (get_score(name).needs & {"data", "labels", "gpu"}) and not get_score(name).exclusive


def plan_pool(spec: ScorerSpec, ray_config: RayConfig, resources: Mapping[str, float], busy: int | None = None
              ) -> ActorPlan:
    """The actors to start for ``spec`` on a cluster of ``resources`` (``ray.cluster_resources()``), the default
    counts capped to ``busy`` (the most cells the work has in flight at once); warns of caps."""
    plan = plan_actors(spec.device, cpus=resources.get("CPU", 0), gpus=resources.get("GPU", 0),
                       actors_per_gpu=ray_config.actors_per_gpu, cpu_actors=ray_config.cpu_actors,
                       num_actors=ray_config.num_actors, cpu_work=any(map(runs_beside_gpu, spec.scores)), busy=busy)
    for warning in plan.warnings:
        log.warning(warning)
    return plan


def ship_images(spec: ScorerSpec) -> ScorerSpec:
    """``spec`` with its scoring images read here, once, and put in Ray's object store (``shipped``); as it is
    when its scores read no images or it has them already. An image set that changed since its spec was
    made fails here, on the driver (``DataError``)."""
    import ray

    n = spec.n_images or spec.images_needed()
    if n == 0 or spec.shipped is not None:
        return spec
    data = load_images(spec.dataset, root=spec.data_root, split="train", n=n, seed=spec.seed)
    ref = ray.put((data.images.numpy(), data.labels.numpy(), data.source))
    return dataclasses.replace(spec, shipped=ref)


def actor_classes(plan: ActorPlan, spec: ScorerSpec) -> tuple[dict[str, Any], dict[str, ScorerSpec]]:
    """For each kind of actor the plan places (``gpu``, ``cpu``): the Ray actor class, asking Ray for
    ``plan.ray_options(kind)``, and the spec its actors score with (CPU actors: on the CPU), which carries
    the images shipped once for all of them (``ship_images``)."""
    import ray

    spec = ship_images(spec)
    classes: dict[str, Any] = {}
    specs: dict[str, ScorerSpec] = {}
    for kind, n in (("gpu", plan.gpu_actors), ("cpu", plan.cpu_actors)):
        if n:
            classes[kind] = ray.remote(**plan.ray_options(kind))(Scorer)
            specs[kind] = spec if kind == "gpu" else dataclasses.replace(spec, device="cpu")
    return classes, specs


def _release(version: str, key: str) -> str:
    """What must match between driver and worker: evonas's whole version, torch's without its build
    (``2.13.0+cpu`` and ``2.13.0+cu121`` agree), Python's major.minor."""
    return {"torch": version.split("+")[0], "python": ".".join(version.split(".")[:2])}.get(key, version)


def check_versions(about: dict[str, Any], driver: dict[str, str] | None = None) -> dict[str, Any]:
    """``about`` (``Scorer.about``) as it is when the worker runs this driver's evonas, torch and Python
    (``driver``: this process's, ``versions()``); else an ``EvonasError``, one line naming the node and both versions."""
    driver = versions() if driver is None else driver
    differ = [key for key in driver if _release(str(about.get(key)), key) != _release(driver[key], key)]
    if not differ:
        return about
    node = about.get("ip") or about.get("host")
    raise EvonasError(f"the Ray scoring worker on node {node} (host {about.get('host')}, node id "
                      f"{about.get('node_id') or '?'}) runs " + ", ".join(f"{k} {about.get(k)}" for k in differ)
                      + " where this driver runs " + ", ".join(f"{k} {driver[k]}" for k in differ)
                      + "; install the same versions on every node (or ship them: ray.runtime_env pip, py_modules)")


def await_start(actors: list[Any], timeout_s: float, where: str) -> dict[Any, dict[str, Any]]:
    """Wait up to ``timeout_s`` for every actor to start: what each started actor says of itself
    (``Scorer.about``: its device, node and versions), in the order they started. An actor that fails while starting, or runs another evonas, torch or Python than this driver
    (``check_versions``), or none started in time, is an error; the caller kills the actors missing from the
    answer (a warning says how many started)."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    pings = {a.about.remote(): a for a in actors}
    ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=timeout_s)
    started: dict[Any, dict[str, Any]] = {}
    driver = versions()
    for ref in ready:
        try:
            about = ray.get(ref)
        except (RayActorError, RayTaskError) as err:
            raise EvonasError(f"a Ray scoring worker could not start: {first_line(err)}") from None
        started[pings[ref]] = check_versions(about, driver)
    if not ready:
        raise EvonasError(f"no Ray worker started within {timeout_s:g} s (ray.start_timeout_s): "
                          f"the cluster ({where}) has no free slot for one, or starting it takes longer")
    if len(ready) < len(pings):
        log.warning(f"only {len(ready)} of {len(pings)} Ray workers started within {timeout_s:g} s "
                    f"(ray.start_timeout_s; the cluster has {where}, some may be in use); going on with "
                    f"{len(ready)}")
    return started
