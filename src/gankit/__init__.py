"""gankit: a PyTorch toolkit for Generative Adversarial Networks.

    run_dir = gankit.train({"preset": "ring-gan", "train": {"steps": 2000}})
    G = gankit.load(run_dir); x = G.sample(64)           # a GAN run
    model = gankit.load(pix2pix_run); y = model.translate(x)  # an image-to-image run
    model = gankit.load(text_run); x = model.sample(8, "a 7 at the top left")  # a text-to-image run
    for result in gankit.evaluate(run_dir, "fid,kid"): print(result.line())
"""
from .api import train
from .config import Config, load_config
from .generator import LoadedGenerator, load_generator
from .metrics.evaluate import MetricResult, evaluate
from .models import Predictor, TextToImage, Translator, Upscaler, load

__version__ = "0.1.0"
__all__ = ["train", "load", "Translator", "Upscaler", "Predictor", "TextToImage", "load_generator", "LoadedGenerator", "evaluate", "MetricResult", "Config", "load_config",
           "__version__"]
