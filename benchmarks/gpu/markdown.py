"""The markdown tables of a GPU report (partial reports too), for docs/benchmarks.md."""
from __future__ import annotations

import math
from typing import Any, Callable


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    return (["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
            + ["| " + " | ".join(_f(v) for v in r) + " |" for r in rows])


def _status_line(name: str, section: dict[str, Any]) -> str:
    status = section.get("status", "?")
    extra = f": {section['reason']}" if section.get("reason") else ""
    extra += f": {section['error']}" if section.get("error") else ""
    if section.get("stopped_early"):
        extra += ", stopped early: its time budget was spent"
    return f"- `{name}`: {status}{extra} ({_f(section.get('seconds'), 0)} s)"


def _scores(sc: dict[str, Any]) -> list[str]:
    if not sc.get("scores"):
        return []
    lines = [f"Seconds per cell (median over {sc.get('cells_done')} cell(s), C={sc.get('C')} N={sc.get('N')}), "
             f"device vs CPU with 1 thread, and |device - CPU| / |CPU| of the values:", ""]
    rows = [[n, r.get("n"), r.get("median_cpu_s"), r.get("median_device_s"), r.get("speedup"),
             r.get("median_rel_diff"), r.get("max_rel_diff"), "; ".join(r.get("errors", []))[:80] or ""]
            for n, r in sc["scores"].items()]
    rows += [[n, 0, None, None, None, None, None, why[:80]] for n, why in sc.get("unusable", {}).items()]
    lines += _table(["score", "cells", "CPU s/cell", "device s/cell", "speed-up", "median rel diff",
                     "max rel diff", "errors"], rows)
    k = sc.get("knas") or {}
    tf = {n: v for n, v in (sc.get("tf32") or {}).items() if isinstance(v, dict)}
    if tf:
        lines += ["", f"Relative difference device vs CPU on cell {sc['tf32']['cell']}, TF32 off (as scored) / "
                      f"on (torch's default for convolutions): "
                      + "; ".join(f"{n} {_f(v['tf32_off'])} / {_f(v['tf32_on'])}" for n, v in tf.items())]
    if k:
        lines += ["", f"KNAS: CPU loop / knas_fast on the device {_f(k.get('cpu_loop_over_device_fast'), 1)}x; "
                      f"loop / knas_fast on the device {_f(k.get('device_loop_over_device_fast'), 1)}x; "
                      f"on the CPU {_f(k.get('cpu_loop_over_cpu_fast'), 1)}x."]
    return lines + [""]


def _objective(ob: dict[str, Any]) -> list[str]:
    if not ob.get("scores"):
        return []
    lines = [f"Objective over {ob.get('n_target')} connected cells ({ob.get('backend')}), against 200-epoch "
             f"test accuracy:", ""]
    rows = [[n, r.get("done"), r.get("actors"), r.get("seconds"), r.get("cells_per_s"), r.get("projected_s_all"),
             r.get("kendall_tau"), r.get("spearman"), r.get("within_flops_tau"),
             "yes" if r.get("stopped_early") else "no", r.get("first_error", "")[:60]]
            for n, r in ob["scores"].items()]
    return lines + _table(["score", "cells", "actors", "s", "cells/s", "projected s (all)", "tau", "rho",
                           "tau within FLOPs quintiles", "stopped early", "error"], rows) + [""]


def _latency(la: dict[str, Any]) -> list[str]:
    if not la.get("batches"):
        return []
    lines = [f"Latency on {la.get('device_name')} (median of the timed repeats), two passes over the same "
             f"cells:", ""]
    rows = []
    for b, r in la["batches"].items():
        cols = ", ".join(f"{k} {_f(v)}" for k, v in r.get("spearman_columns", {}).items()) or "-"
        rows.append([b, r.get("n"), f"{r.get('warmup')} / {r.get('repeats')}", r.get("median_ms"),
                     r.get("run_to_run_spearman"), r.get("median_rel_run_to_run"), r.get("spearman_flops"), cols])
    return lines + _table(["batch", "cells", "warm-up / repeats", "median ms", "run-to-run rho", "median rel diff",
                           "rho FLOPs", "rho shipped GPU columns (same batch)"], rows) + [""]


def _pool(po: dict[str, Any]) -> list[str]:
    if not po.get("runs"):
        return []
    lines = [f"Ray pool, {po.get('cpus')} CPUs, {po.get('gpus')} GPU(s)"
             + (f"; skipped: {'; '.join(po['skipped'])}" if po.get("skipped") else "") + ":", ""]
    rows = [[r["score"], r["device"], r["actors"], r.get("per_gpu"), r.get("cpu_actors_beside", 0), r.get("cells"),
             r.get("cells_per_s"), r.get("startup_s"), r.get("error", "")] for r in po["runs"]]
    return lines + _table(["score", "actors on", "actors", "per GPU", "CPU actors beside", "cells", "cells/s",
                           "start-up s", "error"], rows) + [""]


def _main(mj: dict[str, Any]) -> list[str]:
    if "wall_s" not in mj:
        return []
    lines = [f"Main job: `{mj.get('command')}`", ""]
    lines += _table(["wall s", "search s", "evaluated", "front", "best front 200-epoch acc", "trained", "plots"],
                    [[mj.get("wall_s"), mj.get("search_wall_s"), mj.get("evaluated"), len(mj.get("front", [])),
                      mj.get("best_front_acc"), len(mj.get("trained", [])), ", ".join(mj.get("plots", []))]])
    if mj.get("front"):
        lines += [""] + _table(["id", "index", "gradient_kernel", "MFLOPs", "latency ms", "200-epoch acc"],
                               [[r["id"], r["index"], r["gradient_kernel"], r["flops"], r["latency"],
                                 r["test_acc_200ep"]] for r in mj["front"][:12]])
    if mj.get("trained"):
        lines += [""] + _table(["id", "index", "test acc (%)", "wall s", "device", "status"],
                               [[r["id"], r["index"], r["test_acc"], r["wall_time_s"], r["device"], r["status"]]
                                for r in mj["trained"]])
    return lines + [""]


#: the tables of each section, in the order they are printed
SECTION_TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "scores": _scores, "objective": _objective, "latency": _latency, "pool": _pool, "main": _main}


def markdown(data: dict[str, Any]) -> str:
    """The tables of a report (partial reports too)."""
    s = data.get("sections", {})
    env = s.get("env")
    lines = [] if env is None else [
        f"GPU report on {env.get('device_name', '?')} ({env.get('device', '?')}), torch {env.get('torch', '?')}, "
        f"CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, CPU {env.get('cpu', '?')} x {env.get('cpu_count')}, "
        f"commit {env.get('commit')}"]
    lines += [f"Command: `{data.get('command', '')}`", ""]
    lines += [_status_line(n, sec) for n, sec in s.items()] + [""]
    for name, tables in SECTION_TABLES.items():
        lines += tables(s.get(name, {}))
    return "\n".join(lines) + "\n"
