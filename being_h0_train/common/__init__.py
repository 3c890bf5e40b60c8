"""Small utilities every training stage shares: the learning-rate schedule, checkpoint writing, clean stops.

Light at import time (no torch): the schedule is plain math, the directory swap plain os/shutil,
the stop request plain signal handling.
"""

from .files import prune_dirs, replace_dir
from .schedule import cosine_lr
from .stop import GracefulStop

__all__ = ["GracefulStop", "cosine_lr", "prune_dirs", "replace_dir"]
