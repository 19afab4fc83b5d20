"""Chapter 7: where the time goes, read from the recorded benchmarks (``results/bench-{embed,distill,tabicl}.json``).

Each section returns its figure, its table and the numbers the prose glues; nothing here measures anything.
Usage::

    bench = load_benchmarks("results")              # {"embed": ..., "distill": ..., "tabicl": ...}
    fig, table, values = embed_section(bench["embed"])
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.plots import stamp_weights
from ..evaluation.records import read_json
from ..model.weights import TabICLWeights

BENCHMARKS = ("embed", "distill", "tabicl")


def load_benchmarks(results_dir: str | Path) -> tuple[dict, list[str]]:
    """``({name: record}, warnings)`` for :data:`BENCHMARKS`; a missing file raises, naming the command that
    writes it; a ``--quick`` record gives a warning (its numbers measure nothing)."""
    bench, warnings = {}, []
    for name in BENCHMARKS:
        path = Path(results_dir) / f"bench-{name}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `.venv/bin/python -m benchmarks.{name}` in the repository")
        bench[name] = read_json(path)
        if bench[name]["provenance"].get("quick"):
            warnings.append(f"**Warning:** `{path}` is a `--quick` run (tiny sizes): its numbers measure nothing.")
    return bench, warnings


def recorded_weights(tab: dict) -> TabICLWeights:
    """The TabICL weights a recorded ``bench-tabicl.json`` used (for labelling its figures)."""
    return TabICLWeights(tab["tabicl_weights"], path="(recorded in bench-tabicl.json)")


# ---------------------------------------------------------------- embedding


def embed_section(emb: dict) -> tuple[plt.Figure, pd.DataFrame, dict]:
    """Throughput of our embedding path against a bare forward, and the share of each part of our path."""
    es, thr = emb["provenance"]["settings"], emb["throughput"]
    keys = ("ours_cold", "bare_forward", "decode_transform")
    table = pd.DataFrame(
        {"images/s": [thr["ours_img_per_s"], thr["bare_forward_img_per_s"], thr["decode_transform_img_per_s"]],
         "best s": [emb["timings"][k]["best_s"] for k in keys],
         "median s": [emb["timings"][k]["median_s"] for k in keys]},
        index=["ours (embed_images, cold cache)", "bare forward (baseline)", "decode + transform alone"],
    )  # fmt: skip
    share = emb["breakdown_share_of_ours"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
    ax1.barh(table.index[::-1], table["images/s"][::-1], color=["0.6", "tab:orange", "tab:blue"])
    ax1.set_xscale("log")
    ax1.set_xlabel("images per second (log)")
    ax1.set_title(f"{emb['n_images']} {es['dataset']} images at {es['image_size']} px, {es['backbone']}")
    left = 0.0
    for (part, value), color in zip(share.items(), ["tab:orange", "0.6", "tab:green", "tab:purple"], strict=True):
        ax2.barh(["ours"], [max(value, 0.0)], left=left, color=color, label=f"{part} {value:.1%}")
        left += max(value, 0.0)
    ax2.set_xlim(0, max(1.0, left))
    ax2.set_xlabel("share of our path's time")
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    fig.tight_layout()
    goal_thr, goal_cache = emb["goals"]["throughput_ours_over_bare"], emb["goals"]["cache_hit_speedup"]
    values = {
        "embed_n_images": emb["n_images"], "embed_image_size": es["image_size"], "embed_backbone": es["backbone"],
        "embed_dataset": es["dataset"], "embed_repeats": es["repeats"],
        "embed_ours_ips": thr["ours_img_per_s"], "embed_bare_ips": thr["bare_forward_img_per_s"],
        "embed_decode_ips": thr["decode_transform_img_per_s"],
        "embed_ratio": emb["ratios"]["throughput_ours_over_bare"],
        "embed_ratio_paired": emb["ratios"]["throughput_ours_over_bare_paired_median"],
        "embed_goal": goal_thr["goal"], "embed_goal_met": "met" if goal_thr["met"] else "not met",
        "embed_share_forward": share["forward"], "embed_share_decode": share["decode_transform"],
        "embed_share_other": share["other"] + share["cache_write"],
        "embed_loading_verdict": "is the bottleneck" if emb["loading_is_bottleneck"] else "is not the bottleneck",
        "embed_same": "identical" if emb["same_embeddings"] else "different",
        "cache_speedup": emb["ratios"]["cache_hit_speedup"], "cache_goal": goal_cache["goal"],
        "cache_goal_met": "met" if goal_cache["met"] else "not met",
        "cache_hit_ms": 1000 * emb["timings"]["cache_hit"]["best_s"],
    }  # fmt: skip
    return fig, table, values


# ---------------------------------------------------------------- one LGM step


def lgm_section(lgm: dict) -> tuple[plt.Figure, pd.DataFrame, dict]:
    """Seconds per LGM step and peak memory, ours against the reference way, and the equality checks."""
    ds_, eq, mem = lgm["provenance"]["settings"], lgm["equality"], lgm["memory"]
    table = pd.DataFrame(
        {"best s/step": [lgm["timings"][k]["best_s"] for k in ("ours", "reference")],
         "median s/step": [lgm["timings"][k]["median_s"] for k in ("ours", "reference")],
         "peak memory rise (MiB)": [mem[k]["peak_rise_mb"] for k in ("ours", "reference")]},
        index=["ours", "reference way (baseline)"],
    )  # fmt: skip
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
    colors = ["tab:blue", "0.6"]
    ax1.bar(["ours", "reference"], table["best s/step"], color=colors)
    ax1.set_ylabel("seconds per step (best)")
    ax2.bar(["ours", "reference"], table["peak memory rise (MiB)"], color=colors)
    ax2.set_ylabel("peak memory rise (MiB)")
    per_step = lgm["images_per_step"]
    fig.suptitle(f"{per_step['real']} real + {per_step['synthetic']} synthetic images at {ds_['crop_res']} px, "
                 f"{ds_['backbone']}, {lgm['device']}", fontsize=10)  # fmt: skip
    fig.tight_layout()
    yes = lambda flag: "yes" if flag else "no"  # noqa: E731
    values = {
        "lgm_n_images": per_step["real"], "lgm_crop": ds_["crop_res"], "lgm_K": ds_["augs_per_step"],
        "lgm_classes": ds_["n_classes"], "lgm_steps": ds_["steps"],
        "lgm_ours_s": lgm["timings"]["ours"]["best_s"], "lgm_ref_s": lgm["timings"]["reference"]["best_s"],
        "lgm_speedup": lgm["ratios"]["seconds_per_step_reference_over_ours"],
        "lgm_speedup_paired": lgm["ratios"]["seconds_per_step_reference_over_ours_paired_median"],
        "lgm_mem_ours": mem["ours"]["peak_rise_mb"], "lgm_mem_ref": mem["reference"]["peak_rise_mb"],
        "lgm_mem_ratio": lgm["ratios"]["peak_memory_reference_over_ours"], "lgm_mem_method": mem["method"],
        "lgm_loss_ours": eq["loss_ours"], "lgm_loss_ref": eq["loss_reference"], "lgm_loss_close": yes(eq["loss_close"]),
        "lgm_grad_diff": eq["grad_max_abs_diff"], "lgm_grad_max": eq["grad_max_abs"],
        "lgm_grads_close": yes(eq["grads_close"]), "lgm_update": eq["update_max_abs"],
        "lgm_update_diff": eq["param_max_abs_diff_where_grad_resolved"], "lgm_params_close": yes(eq["params_close"]),
        "lgm_update_diff_all": eq["param_max_abs_diff_after_step"],
        "lgm_tiny": eq["elements_with_grad_below_100_adam_eps"], "lgm_elements": eq["elements_total"],
        "lgm_library_equal": yes(lgm["library_check"]["equal"]), "lgm_library_steps": lgm["library_check"]["steps"],
        "lgm_gpu_note": lgm["gpu_options"]["note"],
    }  # fmt: skip
    return fig, table, values


# ---------------------------------------------------------------- TabICL: fit once, narrower rows


def tabicl_sweep_section(tab: dict) -> tuple[plt.Figure, pd.DataFrame]:
    """Default fit + predict against fit-once (kv cache) over context sizes."""
    sweep = pd.DataFrame(
        [{"N": r["n_context"], "default fit+predict s": r["default"]["total_s"],
          "fit-once fit s": r["kv_cache"]["fit_s"], "fit-once predict s": r["kv_cache"]["predict_s"],
          "predict speed-up": r["predict_speedup"], "fit+predict speed-up": r["total_speedup"],
          "max prob diff": r["max_abs_prob_diff"]} for r in tab["sweep"]]
    )  # fmt: skip
    width, n_test = tab["sweep"][0]["width"], tab["sweep"][0]["n_test"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(sweep["N"], sweep["default fit+predict s"], "o-", label="default: fit + predict")
    ax.loglog(sweep["N"], sweep["fit-once fit s"], "s--", label="fit-once: fit (encodes the context)")
    ax.loglog(sweep["N"], sweep["fit-once predict s"], "^-", label="fit-once: each predict")
    ax.set(xlabel="context rows N", ylabel="seconds")
    threads = tab["provenance"]["machine"]["torch_threads"]
    ax.set_title(f"{n_test} test rows, PCA-{width} rows, TabICL on {threads} CPU threads", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    stamp_weights(fig, recorded_weights(tab))
    fig.tight_layout()
    return fig, sweep


def width_table(tab: dict) -> pd.DataFrame:
    """Per PCA width (and full width): seconds, variance kept, speed-ups and each evaluator's accuracy cost."""
    full, dims, at = str(tab["data"]["full_width"]), list(tab["goal"]["by_pca_dim"]), tab["at_goal_n"]
    cost = tab["accuracy_cost_points"]
    peers = list(cost)
    rows = []
    for d in dims + [full]:
        speed = tab["speedup_vs_full_default"].get(d, {})
        rows.append({
            "width": d, "default fit+predict s": at[d]["default"]["total_s"],
            "fit-once predict s": at[d]["kv_cache"]["predict_s"] if "kv_cache" in at[d] else np.nan,
            "variance kept": tab["pca"][d]["explained_variance"] if d in tab["pca"] else 1.0,
            "PCA speed-up (default)": speed["pca_default_total"] if d != full else 1.0,
            "PCA + fit-once, per query": speed["pca_kv_predict"] if d != full else np.nan,
            **{f"cost {p} (points)": cost[p][d]["mean_points"] if d != full else 0.0 for p in peers},
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("width")


def tabicl_width_section(tab: dict) -> tuple[plt.Figure, pd.DataFrame]:
    """Seconds at the goal's context size per width (left) and the accuracy each width costs (right)."""
    table = width_table(tab)
    full, goal, n_test = str(tab["data"]["full_width"]), tab["goal"], tab["sweep"][0]["n_test"]
    dims, peers = list(goal["by_pca_dim"]), list(tab["accuracy_cost_points"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    x = np.arange(len(table))
    ax1.bar(x - 0.2, table["default fit+predict s"], 0.4, label="default: fit + predict")
    ax1.bar(x + 0.2, table["fit-once predict s"].fillna(0), 0.4, label="fit-once: each predict")
    for i in np.flatnonzero(table["fit-once predict s"].isna().to_numpy()):
        ax1.text(x[i] + 0.2, table["default fit+predict s"].min(), "fit-once\nnot measured", ha="center",
                 va="bottom", fontsize=7, rotation=90, color="0.4")  # fmt: skip
    ax1.set_xticks(x, [f"PCA-{d}" if d != full else f"full ({d})" for d in table.index])
    ax1.set_yscale("log")
    ax1.set(ylabel="seconds", title=f"N = {goal['n_context']} context rows, {n_test} test rows")
    ax1.legend(fontsize=8)
    for i, p in enumerate(peers):
        cost = tab["accuracy_cost_points"][p]
        ax2.bar(np.arange(len(dims)) + (i - 1) * 0.25, [cost[d]["mean_points"] for d in dims], 0.25,
                yerr=[cost[d]["std_points"] for d in dims], label=p)  # fmt: skip
    ax2.axhline(goal["accuracy_goal_points"], color="crimson", ls="--", lw=1, label="goal: under this")
    ax2.axhline(0, color="0.3", lw=0.8)
    ax2.set_xticks(np.arange(len(dims)), [f"PCA-{d}" for d in dims])
    ax2.set_ylabel("accuracy lost vs full width (points)")
    ax2.set_title(f"accuracy cost on {tab['data']['source']}, N = {goal['n_context']} "
                  "(tabicl_mini: TabICL-mini weights, not random)", fontsize=9)  # fmt: skip
    ax2.legend(fontsize=8)
    stamp_weights(fig, recorded_weights(tab))
    fig.tight_layout()
    return fig, table


GOAL_COLUMNS = {"speedup_per_query_fit_once": "speed-up per query (fit once)",
                "speedup_single_query": "speed-up, fit + one query",
                "worst_peer_accuracy_cost_points": "worst peer's accuracy cost (points)",
                "accuracy_ok": "cost under the goal", "met_per_query": "goal met per query",
                "met_single_query": "goal met, fit + one query"}  # fmt: skip


def tabicl_goal_numbers(tab: dict, sweep: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The goal table (per PCA width) and the numbers the TabICL section glues."""
    full, goal, at = str(tab["data"]["full_width"]), tab["goal"], tab["at_goal_n"]
    by_dim, dims, peers = goal["by_pca_dim"], list(goal["by_pca_dim"]), list(tab["accuracy_cost_points"])
    at_n = next(r for r in tab["sweep"] if r["n_context"] == goal["n_context"])
    best = max(dims, key=lambda d: (by_dim[d]["met_per_query"], -by_dim[d]["worst_peer_accuracy_cost_points"]))
    g0, gb = by_dim[dims[0]], by_dim[best]
    met_dims = [d for d in dims if by_dim[d]["met_per_query"]]
    met_single = [d for d in dims if by_dim[d]["met_single_query"]]
    peer_acc_full = {p: float(np.mean(tab["peer_accuracy"][p][full])) for p in peers}
    ok = {p: [d for d in dims if tab["accuracy_cost_points"][p][d]["mean_points"] < goal["accuracy_goal_points"]]
          for p in peers}  # fmt: skip
    ok_text = "; ".join(f"{p}: " + (", ".join(f"PCA-{d}" for d in v) if v else "no width") for p, v in ok.items())
    values = {
        "tab_data": tab["data"]["description"], "tab_source": tab["data"]["source"], "tab_full_width": int(full),
        "tab_width": tab["sweep"][0]["width"], "tab_n_test": tab["sweep"][0]["n_test"],
        "tab_n_max": int(sweep["N"].max()), "tab_n_min": int(sweep["N"].min()), "tab_goal_n": goal["n_context"],
        "tab_speed_goal": goal["speed_goal"], "tab_acc_goal": goal["accuracy_goal_points"],
        "tab_kv_predict_speedup_goal_n": at_n["predict_speedup"], "tab_kv_total_speedup_goal_n": at_n["total_speedup"],
        "tab_kv_predict_speedup_max_n": float(sweep["predict speed-up"].iloc[-1]),
        "tab_max_prob_diff": float(sweep["max prob diff"].max()), "tab_full_default_s": at[full]["default"]["total_s"],
        "tab_dim0": int(dims[0]), "tab_dim0_pca_speedup": tab["speedup_vs_full_default"][dims[0]]["pca_default_total"],
        "tab_dim0_per_query": g0["speedup_per_query_fit_once"], "tab_dim0_single": g0["speedup_single_query"],
        "tab_dim0_worst_cost": g0["worst_peer_accuracy_cost_points"],
        "tab_dim0_variance": tab["pca"][dims[0]]["explained_variance"], "tab_best_dim": int(best),
        "tab_best_per_query": gb["speedup_per_query_fit_once"], "tab_best_single": gb["speedup_single_query"],
        "tab_best_worst_cost": gb["worst_peer_accuracy_cost_points"],
        "tab_goal_verdict": f"met per query by PCA to {', '.join(met_dims)} dims" if met_dims
        else "not met per query by any PCA width measured",
        "tab_goal_single_verdict": f"met by PCA to {', '.join(met_single)} dims" if met_single
        else "not met by any PCA width measured",
        "tab_acc_logreg_full": peer_acc_full.get("logreg", float("nan")), "tab_label": tab["tabicl_label"],
        "tab_dims_text": "/".join(dims), "tab_peer_ok": ok_text,
    }  # fmt: skip
    table = pd.DataFrame(by_dim).T.infer_objects().rename(columns=GOAL_COLUMNS).rename_axis("PCA width")
    return table.round(2), values


def provenance_table(bench: dict) -> pd.DataFrame:
    """One row per benchmark: commit, date, torch, machine, threads, load, wall seconds, command."""
    commit = lambda sha: sha[:12] + ("+dirty" if sha.endswith("+dirty") else "")  # noqa: E731
    rows = []
    for name, b in bench.items():
        p, m = b["provenance"], b["provenance"]["machine"]
        rows.append({"benchmark": name, "git commit": commit(p["git_commit"]), "date (UTC)": p["date_utc"],
                     "torch": p["torch"], "cpu": m["cpu"], "cores": m["cpu_count"], "threads": m["torch_threads"],
                     "load 1 min": round((m["load_average_1_5_15"] or [np.nan])[0], 2), "wall s": round(p["wall_s"]),
                     "command": p["command"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("benchmark")
