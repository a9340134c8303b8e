"""Training engine: runs that resume, a run registry, three profiles, DDP through torchrun.

* :func:`train` — train a named configuration at a profile on a dataset (or reuse / resume its run);
* :func:`evaluate_run` — evaluate a finished run on any dataset (cross-domain, multi-query, re-ranked);
* :func:`load_model` — a finished run's model in eval mode;
* :func:`create_model` — a configuration's model as a profile builds it (the cpu profile's ResNet-18);
* :func:`get_profile` — the smoke / cpu / paper settings of a recipe.
"""

from reidlib.engine.evaluation import evaluate_run, load_model
from reidlib.engine.factory import create_model, model_spec
from reidlib.engine.profiles import Profile, get_profile
from reidlib.engine.runs import RunConfigMismatchError
from reidlib.engine.trainer import ConfigurationError, NonFiniteLossError, RunResult, train

__all__ = ["train", "create_model", "model_spec", "evaluate_run", "load_model", "get_profile", "Profile", "RunResult",
           "ConfigurationError", "NonFiniteLossError", "RunConfigMismatchError"]
