"""Small utilities every training stage shares: the learning-rate schedule and checkpoint writing.

Light at import time (no torch): the schedule is plain math, the directory swap plain os/shutil.
"""

from .files import replace_dir
from .schedule import cosine_lr

__all__ = ["cosine_lr", "replace_dir"]
