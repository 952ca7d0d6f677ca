"""gankit: a PyTorch toolkit for Generative Adversarial Networks.

    run_dir = gankit.train({"preset": "ring-gan", "train": {"steps": 2000}})
    G = gankit.load_generator(run_dir); x = G.sample(64)
    for result in gankit.evaluate(run_dir, "fid,kid"): print(result.line())
"""
from .api import train
from .config import Config, load_config
from .generator import LoadedGenerator, load_generator
from .metrics.evaluate import MetricResult, evaluate

__version__ = "0.1.0"
__all__ = ["train", "load_generator", "LoadedGenerator", "evaluate", "MetricResult", "Config", "load_config",
           "__version__"]
