"""Part-level grouped-residual-quantisation (GRQ) motion tokenizer."""

from .model import GRQConfig, MotionTokenizer
from .quantizer import GroupedResidualVQ
from .train import evaluate, train_tokenizer

__all__ = ["GRQConfig", "MotionTokenizer", "GroupedResidualVQ", "evaluate", "train_tokenizer"]
