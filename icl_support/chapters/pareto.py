"""Chapter 5: every context strategy at k rows per class: tables, figures and glued numbers of a sweep.

The sweep itself (strategies x k, every evaluator on the same PCA rows) is
:func:`icl_support.contexts.sweep.run_sweep`. Everything here reads a results mapping: a live sweep's
``out["results"]`` or a recorded ``results/*-pareto.json`` (``{strategy: {k or "all": {evaluator: {mean,
std, n}, tabicl_seconds, build_seconds, rows}}}``). Usage::

    out = run_sweep(run, prepare_images(settings))
    fig = plot_accuracy(out["results"], "rows")
    values = glued_numbers(out["results"], settings.ks)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..contexts.sweep import SPLIT_EVALUATOR, SWEEP_EVALUATORS

SPLIT_TITLE = "tabicl_split: columns from the pool (not a k-row bottleneck)"


def pareto_front(rows: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (fewer-or-equal rows and higher-or-equal accuracy,
    one strictly), sorted by rows. ``rows``, ``acc``: (P,) arrays."""
    order = np.lexsort((-acc, rows))
    keep, best = [], -np.inf
    for i in order:
        if acc[i] > best:
            keep.append(int(i))
            best = acc[i]
    return np.asarray(keep, dtype=int)


STYLE = {  # strategy: (colour, marker)
    "random": ("0.45", "o"),
    "class_mean": ("tab:red", "s"),
    "nearest_centroid": ("tab:blue", "v"),
    "kmeans_medoids": ("tab:cyan", "^"),
    "herding": ("tab:orange", "D"),
    "kcenter": ("tab:brown", "x"),
    "row_lgm": ("tab:pink", "P"),
    "pixel_lgm": ("tab:green", "*"),
    "tabicl_lgm": ("tab:purple", "h"),
    "retrieval": ("tab:olive", "<"),
    "full": ("black", "*"),
}


def long_table(results: dict) -> pd.DataFrame:
    """One row per (strategy, k, evaluator): rows, mean, std, n, TabICL seconds (the split mode's own for
    ``tabicl_split``, "columns from the pool"), build seconds."""
    out = []
    for name, per_k in results.items():
        for k, e in per_k.items():
            for ev in SWEEP_EVALUATORS + (SPLIT_EVALUATOR,):
                if ev not in e:  # retrieval contexts are scored by TabICL only; older records lack the split mode
                    continue
                out.append(
                    {
                        "strategy": name,
                        "k": k,
                        "rows": e["rows"],
                        "evaluator": ev,
                        "mean": e[ev]["mean"],
                        "std": e[ev]["std"],
                        "n": e[ev]["n"],
                        "tabicl_seconds": e.get(f"{ev}_seconds", e["tabicl_seconds"])["mean"],
                        "build_seconds": e["build_seconds"]["mean"],
                    }
                )
    return pd.DataFrame(out)


def wide_table(results: dict, evaluator: str) -> pd.DataFrame:
    """Strategies x k of ``mean ± std`` for one evaluator (strings, for display)."""
    t = long_table(results)
    t = t[t.evaluator == evaluator]
    cells = t.assign(
        cell=[
            f"{m:.3f} ± {sd:.3f}" if n > 1 else f"{m:.3f}" for m, sd, n in zip(t["mean"], t["std"], t["n"], strict=True)
        ]
    )
    order = list(dict.fromkeys(t.k.tolist()))
    return cells.pivot(index="strategy", columns="k", values="cell").reindex(columns=order).fillna("")


def front(results: dict, evaluator: str, x: str = "rows") -> pd.DataFrame:
    """The Pareto front (fewest ``x``, highest accuracy) of one evaluator over every strategy and k."""
    t = long_table(results)
    t = t[t.evaluator == evaluator].reset_index(drop=True)
    return t.iloc[pareto_front(t[x].to_numpy(float), t["mean"].to_numpy(float))]


def plot_accuracy(
    results: dict, x: str = "rows", evaluators=SWEEP_EVALUATORS, random_tabicl: bool = True, ax=None
) -> plt.Figure:
    """One panel per evaluator: accuracy (± std over seeds) against context rows or TabICL seconds (log x),
    a line per strategy, the Pareto front dashed. ``ax``: draw the one evaluator into this axes instead."""
    xlabel = {"rows": "context rows", "tabicl_seconds": "TabICL fit + predict seconds"}[x]
    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        fig, axes = plt.subplots(1, len(evaluators), figsize=(3.6 * len(evaluators), 3.4), sharex=True)
    t = long_table(results)
    for ax, ev in zip(np.atleast_1d(axes), evaluators, strict=True):
        sub = t[t.evaluator == ev]
        for name, g in sub.groupby("strategy", sort=False):
            color, marker = STYLE.get(name, ("k", "o"))
            g = g.sort_values(x)
            ax.errorbar(g[x], g["mean"], yerr=g["std"], color=color, marker=marker, ms=5, lw=1, capsize=2, label=name)
        f = front(results, ev, x)
        ax.plot(f[x], f["mean"], "k--", lw=0.8, alpha=0.6, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        title = SPLIT_TITLE if ev == SPLIT_EVALUATOR else ev
        title += " (RANDOM WEIGHTS: chance)" if ev in ("tabicl", SPLIT_EVALUATOR) and random_tabicl else ""
        ax.set_title(title, fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[-1].legend(fontsize=6, loc="lower right")
    if ax is None:
        fig.tight_layout()
    return fig


def distillation_gap(results: dict, evaluators=("logreg", "nearest_mean", "one_nn")) -> pd.DataFrame:
    """Embedding-space vs pixel LGM at every k where both ran: accuracy per evaluator, build seconds, and
    the gap (pixel minus row; the accuracy bought by distilling real images)."""
    rows = []
    for k in results.get("pixel_lgm", {}):
        if k not in results.get("row_lgm", {}):
            continue
        px, rw = results["pixel_lgm"][k], results["row_lgm"][k]
        r = {"k": k, "pixel_seconds": px["build_seconds"]["mean"], "row_seconds": rw["build_seconds"]["mean"]}
        for ev in evaluators:
            r[f"pixel_{ev}"] = px[ev]["mean"]
            r[f"row_{ev}"] = rw[ev]["mean"]
            r[f"gap_{ev}"] = px[ev]["mean"] - rw[ev]["mean"]
        rows.append(r)
    return pd.DataFrame(rows)


GAP_EVALUATOR_NAMES = {"logreg": "logistic regression", "nearest_mean": "nearest mean", "one_nn": "1-NN"}


def distillation_gap_table(results: dict, evaluators=("logreg", "nearest_mean")) -> pd.DataFrame:
    """:func:`distillation_gap` for reading: one row per k (images per class), build seconds to 0.1 s and accuracies
    to 3 decimals under two-level headers (evaluator, then pixel / embedding / gap; gap = pixel minus embedding, of
    the numbers shown, so a row reads consistently; rounded as :func:`wide_table` prints)."""
    gap = distillation_gap(results, evaluators)
    if gap.empty:
        return gap
    shown = lambda col, digits=3: col.map(lambda v: float(f"{v:.{digits}f}"))  # noqa: E731  as wide_table prints
    columns = {("build seconds", "pixel"): shown(gap["pixel_seconds"], 1),
               ("build seconds", "embedding"): shown(gap["row_seconds"], 1)}  # fmt: skip
    for ev in evaluators:
        name, pixel, row = GAP_EVALUATOR_NAMES.get(ev, ev), shown(gap[f"pixel_{ev}"]), shown(gap[f"row_{ev}"])
        columns |= {(name, "pixel"): pixel, (name, "embedding"): row, (name, "gap"): shown(pixel - row)}
    table = pd.DataFrame(columns)
    table.index = pd.Index(gap["k"], name="k")
    return table


def skipped_note(skipped: dict) -> str:
    """Markdown line naming every skipped (strategy, k) and why ("" when nothing was skipped)."""
    if not skipped:
        return ""
    parts = [f"`{n}` at k = {', '.join(v)}: {next(iter(v.values()))}" for n, v in skipped.items()]
    return "Skipped: " + "; ".join(parts)


def best(results: dict, evaluator: str, k: str) -> tuple[str, float]:
    """The strategy with the highest mean ``evaluator`` accuracy at ``k`` and that accuracy."""
    cand = {n: r[k][evaluator]["mean"] for n, r in results.items() if k in r and evaluator in r[k]}
    name = max(cand, key=cand.get)
    return name, cand[name]


def sweep_evaluators(results: dict) -> tuple[str, ...]:
    """The evaluators to draw: the sweep's four, and the split mode where the sweep scored it."""
    scored = any(SPLIT_EVALUATOR in e for per_k in results.values() for e in per_k.values())
    return SWEEP_EVALUATORS + ((SPLIT_EVALUATOR,) if scored else ())


def split_numbers(results: dict, k: str) -> dict:
    """The split mode beside the plain mode at ``k`` rows per class, as text for the prose: the best strategy of
    each with its accuracy and TabICL seconds (``"not scored here"`` when the sweep did not run the split mode)."""
    if not any(SPLIT_EVALUATOR in r.get(k, {}) for r in results.values()):
        return {"split_best": "not scored here", "plain_best": "not scored here"}
    out = {}
    for key, ev in (("split_best", SPLIT_EVALUATOR), ("plain_best", "tabicl")):
        name, acc = best(results, ev, k)
        seconds = results[name][k].get(f"{ev}_seconds", results[name][k]["tabicl_seconds"])["mean"]
        out[key] = f"{name} ({acc:.3f}, {seconds:.2f} s)"
    return out


def glued_numbers(results: dict, ks) -> dict:
    """The numbers chapter 5's prose quotes about a live sweep."""
    k0, kmax = str(ks[0]), str(ks[-1])
    values = {"k_first": int(k0), "k_last": int(kmax), **split_numbers(results, k0)}
    for ev in ("logreg", "nearest_mean", "one_nn"):
        for k, tag in ((k0, "first"), (kmax, "last")):
            name, acc = best(results, ev, k)
            values[f"best_{ev}_{tag}"] = f"{name} ({acc:.3f})"
    if "full" in results:
        full = results["full"]["all"]
        values.update(full_rows=full["rows"], full_logreg=full["logreg"]["mean"])
        values["full_tabicl_seconds"] = full["tabicl_seconds"]["mean"]
    values["random_k1_tabicl_seconds"] = results["random"][k0]["tabicl_seconds"]["mean"]
    f = front(results, "logreg")
    values["front_logreg"] = " → ".join(
        f"{s} k={k} ({m:.3f})" for s, k, m in zip(f.strategy, f.k, f["mean"], strict=True)
    )
    gap = distillation_gap(results)
    if len(gap):
        g = gap.iloc[0]
        values.update(gap_k=g["k"], gap_logreg=g["gap_logreg"], gap_pixel_s=g["pixel_seconds"])
        values.update(gap_row_s=g["row_seconds"], gap_speedup=g["pixel_seconds"] / g["row_seconds"])
    return values


def recorded_numbers(rec: dict) -> dict:
    """The numbers chapter 5's prose quotes about a recorded sweep (``rec``: a ``results/*-pareto.json``)."""
    rres = rec["results"]
    values = {"rec_commit": rec["provenance"].get("git_commit", "?")}
    for k in ("1", "5", "50"):
        for ev in ("logreg", "nearest_mean"):
            name, acc = best(rres, ev, k)
            values[f"rec_best_{ev}_k{k}"] = f"{name} ({acc:.3f})"
    for name in ("random", "nearest_centroid", "class_mean", "pixel_lgm", "row_lgm"):
        if "1" in rres.get(name, {}):
            values[f"rec_{name}_k1_logreg"] = rres[name]["1"]["logreg"]["mean"]
            values[f"rec_{name}_k1_nearest_mean"] = rres[name]["1"]["nearest_mean"]["mean"]
    values["rec_full_logreg"] = rres["full"]["all"]["logreg"]["mean"]
    values["rec_full_tabicl_s"] = rres["full"]["all"]["tabicl_seconds"]["mean"]
    values["rec_k1_tabicl_s"] = rres["random"]["1"]["tabicl_seconds"]["mean"]
    values["rec_k50_tabicl_s"] = rres["random"]["50"]["tabicl_seconds"]["mean"]
    return values


def with_retrieval(rec: dict, retrieval: dict) -> dict:
    """The recorded sweep's results with a recorded retrieval sweep's ``retrieval`` entries added (same rows, same
    TabICL test rows; checked), for one figure of global and per-test-row contexts."""
    for key in ("real_pool", "test_images", "image_px", "embedding_dim"):
        if rec["setting"].get(key) != retrieval["setting"].get(key):
            raise ValueError(
                f"the two records differ in {key}: {rec['setting'].get(key)} vs {retrieval['setting'].get(key)}"
            )
    if rec["notes"]["tabicl_test_rows"] != retrieval["notes"]["tabicl_test_rows"]:
        raise ValueError("the two records scored TabICL on different numbers of test rows")
    return {**rec["results"], "retrieval": retrieval["results"]["retrieval"]}


def retrieval_numbers(results: dict) -> dict:
    """TabICL on retrieval contexts against the global contexts at the same k and the whole pool (glued)."""
    ret = results["retrieval"]
    values = {}
    for k in ret:
        glob = {n: r[k]["tabicl"]["mean"] for n, r in results.items() if n != "retrieval" and k in r}
        best_name = max(glob, key=glob.get) if glob else "none"
        values[f"ret_k{k}_tabicl"] = ret[k]["tabicl"]["mean"]
        values[f"ret_k{k}_seconds"] = ret[k]["tabicl_seconds"]["mean"]
        values[f"ret_k{k}_best_global"] = f"{best_name} ({glob[best_name]:.3f})" if glob else "none"
        values[f"ret_k{k}_gain"] = ret[k]["tabicl"]["mean"] - (glob[best_name] if glob else float("nan"))
    full = results["full"]["all"]
    values.update(ret_full_tabicl=full["tabicl"]["mean"], ret_full_seconds=full["tabicl_seconds"]["mean"])
    values["ret_full_logreg"] = full["logreg"]["mean"] if "logreg" in full else float("nan")  # the peer beside it
    best_k = max(ret, key=lambda k: ret[k]["tabicl"]["mean"])
    values.update(ret_best_k=int(best_k), ret_best_tabicl=ret[best_k]["tabicl"]["mean"])
    return values
