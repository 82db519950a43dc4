"""The catalogue of tsb-ad detectors: registered name, tsb-ad function, group, needs.

Registered names follow the TSB-AD-U leaderboard spelling (``Sub-PCA``, ``KMeansAD``,
``MOMENT (ZS)``); pool members that are not on that leaderboard use the tsb-ad name with
``_`` replaced by ``-``. Default hyperparameters are tsb-ad's tuned univariate ones
(``HP_list.Optimal_Uni_algo_HP_dict``) where it has an entry, otherwise the defaults of
tsb-ad's ``run_<name>`` wrapper function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNSUPERVISED = "unsupervised"
SEMI_SUPERVISED = "semi-supervised"


@dataclass(frozen=True)
class DetectorSpec:
    """One tsb-ad detector as this project exposes it."""

    name: str
    """Registered name (leaderboard spelling)."""
    tsb_name: str
    """Name in tsb-ad's pools; its wrapper function is ``model_wrapper.run_<tsb_name>``."""
    supervision: str
    group: str
    """``classical``, ``deep`` or ``foundation``."""
    on_leaderboard: bool = True
    requires: tuple[str, ...] = ()
    """Importable modules the detector needs beyond tsb-ad's own dependencies."""
    weights: str | None = None
    """Pretrained weights the detector downloads at run time, if any."""
    hub_repo: str | None = None
    """Hugging Face repo whose files must already be in the local cache (checked at build)."""
    needs_gpu: bool = False
    """tsb-ad's code moves tensors to CUDA unconditionally."""
    note: str = ""


def _c(name: str, tsb: str, sup: str, lb: bool = True, note: str = "") -> DetectorSpec:
    return DetectorSpec(name, tsb, sup, "classical", on_leaderboard=lb, note=note)


def _d(name: str, tsb: str, **extra: Any) -> DetectorSpec:
    return DetectorSpec(name, tsb, SEMI_SUPERVISED, "deep", **extra)


def _f(name: str, tsb: str, sup: str, requires: tuple[str, ...], weights: str) -> DetectorSpec:
    return DetectorSpec(
        name,
        tsb,
        sup,
        "foundation",
        requires=requires,
        weights=weights,
        needs_gpu=True,
        note="tsb-ad's code moves the model to CUDA",
    )


U, S = UNSUPERVISED, SEMI_SUPERVISED

SPECS: tuple[DetectorSpec, ...] = (
    # classical, on the TSB-AD-U leaderboard
    _c("Sub-PCA", "Sub_PCA", U),
    _c("IForest", "IForest", U),
    _c("Sub-IForest", "Sub_IForest", U),
    _c("LOF", "LOF", U),
    _c("Sub-LOF", "Sub_LOF", U),
    _c("POLY", "POLY", U),
    _c("MatrixProfile", "MatrixProfile", U),
    _c("KShapeAD", "KShapeAD", U),
    _c("SAND", "SAND", S),
    _c("Series2Graph", "Series2Graph", U),
    _c("SR", "SR", U),
    _c("Sub-HBOS", "Sub_HBOS", U),
    _c("Sub-OCSVM", "Sub_OCSVM", S),
    _c("Sub-MCD", "Sub_MCD", S),
    _c("Sub-KNN", "Sub_KNN", U),
    _c("KMeansAD", "KMeansAD_U", U, note="tsb-ad's KMeansAD_U (window from the period)"),
    # classical pool members that are not on the leaderboard
    _c("NORMA", "NORMA", U, lb=False),
    _c("FFT", "FFT", U, lb=False),
    _c("PCA", "PCA", U, lb=False),
    _c("HBOS", "HBOS", U, lb=False),
    _c("KNN", "KNN", U, lb=False),
    _c("KMeansAD-fixed", "KMeansAD", U, lb=False, note="tsb-ad's KMeansAD with a fixed window (20)"),
    _c("COPOD", "COPOD", U, lb=False),
    _c("COF", "COF", U, lb=False),
    _c("EIF", "EIF", U, lb=False),
    _c("RobustPCA", "RobustPCA", U, lb=False),
    _c("Left-STAMPi", "Left_STAMPi", S, lb=False),
    _c("OCSVM", "OCSVM", S, lb=False),
    # deep (semi-supervised: trained on the series' anomaly-free prefix)
    _d("AutoEncoder", "AutoEncoder"),
    _d("CNN", "CNN"),
    _d("LSTMAD", "LSTMAD"),
    _d("TranAD", "TranAD"),
    _d(
        "AnomalyTransformer",
        "AnomalyTransformer",
        needs_gpu=True,
        note="tsb-ad's code calls .cuda() unconditionally",
    ),
    _d("OmniAnomaly", "OmniAnomaly"),
    _d("USAD", "USAD"),
    _d("Donut", "Donut"),
    _d("TimesNet", "TimesNet"),
    _d("FITS", "FITS"),
    _d(
        "OFA",
        "OFA",
        requires=("transformers", "torchinfo", "huggingface_hub"),
        weights="gpt2 (Hugging Face hub)",
        hub_repo="gpt2",
        note="loads GPT-2 with from_pretrained('gpt2'); pre-download it",
    ),
    # foundation models: need extra packages and downloaded weights
    _f("Chronos", "Chronos", U, ("autogluon.timeseries",), "Chronos (Hugging Face hub)"),
    _f("TimesFM", "TimesFM", U, ("timesfm",), "google/timesfm (Hugging Face hub)"),
    _f("Lag-Llama", "Lag_Llama", U, ("lag_llama", "gluonts"), "lag-llama checkpoint"),
    _f("MOMENT (ZS)", "MOMENT_ZS", U, ("momentfm",), "AutonLab/MOMENT-1-large (Hugging Face hub)"),
    _f("MOMENT (FT)", "MOMENT_FT", S, ("momentfm",), "AutonLab/MOMENT-1-large (Hugging Face hub)"),
)

# Pool members left out: they fail on every univariate series with tsb-ad 1.5's defaults.
NOT_REGISTERED: dict[str, str] = {
    "MCD": "run_MCD with slidingWindow=1 raises TypeError inside tsb-ad (use Sub-MCD)",
    "CBLOF": "raises 'Could not form valid cluster separation' on univariate points",
}

# Detectors whose tsb-ad 1.5 code draws from a GLOBAL random generator (not a seed of its
# own): their scores depend on that generator's state when the series starts. We seed
# `random`, numpy and torch with 2024 before every series, so each value is reproducible on
# its own; TSB-AD's Run_Detector_U.py seeds once per process and loops over all files, so its
# published per-series values for these detectors also depend on the files run before
# (docs/tsb-ad-u.md). Shown as the detector's method note (`display.notes`).
_NUMPY_RNG = "numpy's global RNG"
_TORCH_RNG = "torch's global RNG (weight initialisation, batch shuffling)"
GLOBAL_RNG: dict[str, str] = {
    "KShapeAD": f"{_NUMPY_RNG}: np.random.choice in the k-Shape centroid initialisation",
    "SAND": f"{_NUMPY_RNG}: tslearn KShape built without random_state",
    "KMeansAD": f"{_NUMPY_RNG}: scikit-learn KMeans built without random_state",
    "KMeansAD-fixed": f"{_NUMPY_RNG}: scikit-learn KMeans built without random_state",
    "EIF": f"{_NUMPY_RNG} and Python's random: random split hyperplanes",
    "NORMA": "Python's random: random.sample of recurrent subsequences",
    **{name: _TORCH_RNG for name in ("AutoEncoder", "CNN", "LSTMAD", "TranAD", "AnomalyTransformer", "OmniAnomaly",
                                     "USAD", "Donut", "TimesNet", "FITS", "OFA")},
}


def rng_note(name: str) -> str:
    """The method note of a detector that draws from a global RNG ("" for the others)."""
    source = GLOBAL_RNG.get(name)
    if not source:
        return ""
    return (f"Draws from {source}. Seeded with 2024 before every series here, so each series' value is "
            "reproducible on its own; TSB-AD's script seeds once per process for all files, so its published "
            "per-series values also depend on the files before and can differ from ours.")


# Pool members registered by another module over their current packages (tsb-ad's wrappers
# need AutoGluon / the timesfm 1.x API, which do not install beside our pins).
REPLACED: dict[str, str] = {
    "Chronos": "baselines.foundation (chronos-forecasting, extra 'chronos')",
    "TimesFM": "baselines.foundation (timesfm 3, extra 'timesfm')",
}

BY_NAME: dict[str, DetectorSpec] = {s.name: s for s in SPECS}
BY_TSB_NAME: dict[str, DetectorSpec] = {s.tsb_name: s for s in SPECS}


def lookup(name: str) -> DetectorSpec | None:
    """The spec for a registered name or a tsb-ad pool name (``Sub_PCA`` works too)."""
    return BY_NAME.get(name) or BY_TSB_NAME.get(name)


HP_DEFAULTS_SOURCE = "tsb-ad HP_list.Optimal_Uni_algo_HP_dict over the run_<name> defaults"


def factory_name(spec: DetectorSpec) -> str:
    """Name of the detector's factory in :mod:`baselines.classical` (``make_Sub_PCA``)."""
    return f"make_{spec.tsb_name}"


def display(spec: DetectorSpec) -> dict[str, Any]:
    """Display metadata of a detector, from the catalogue alone (imports nothing).

    The effective hyperparameters are not here (computing them imports tsb-ad); a built
    detector reports them in its ``describe()``.
    """
    return {
        "group": spec.group,
        "supervision": spec.supervision,
        "provides": ["scores"],
        "source": "tsb-ad",
        "needs": ["detectors"],
        "check": "baselines.tsbad.availability:card_check",
        "tsb_ad_name": spec.tsb_name,
        "hyperparameters_source": HP_DEFAULTS_SOURCE,
        "on_tsb_ad_u_leaderboard": spec.on_leaderboard,
        "requires": list(spec.requires),
        "weights": spec.weights,
        "note": spec.note,
        **({"notes": rng_note(spec.name)} if rng_note(spec.name) else {}),
    }


def registry_rows() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every catalogue detector as a built-in registry row: ``name -> (lazy ref, display)``
    (but those in :data:`REPLACED`, listed by :mod:`baselines.catalog`)."""
    return {s.name: (f"baselines.classical:{factory_name(s)}", display(s)) for s in SPECS if s.name not in REPLACED}
