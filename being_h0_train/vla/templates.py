"""The three physical-instruction-tuning task templates of Being-H0.

1. ``motion_generation`` (instructional motion generation): image +
   instruction -> ``<MOT>...</MOT>``.
2. ``motion_translation``: image + ``<MOT>...</MOT>`` -> the instruction text
   (motion -> language).
3. ``motion_prediction`` (contextual motion prediction): image + instruction
   + the first part of the motion -> ``<MOT>`` the rest ``</MOT>``.

Prompts use the Qwen2.5 chat format of InternVL3; only the assistant turn is
supervised. Several phrasings per task keep the model from keying on one
string; the phrasing is drawn from the caller's RNG so datasets are
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from being_h0_runtime.policy.models.vla_tokenizer import IM_END, IM_START

TASKS = ("motion_generation", "motion_translation", "motion_prediction")

_PHRASES = {
    "motion_generation": [
        "{instr}. Generate the hand motion.",
        "Instruction: {instr}. Output the hand motion tokens.",
        "How should the hand move to {instr}?",
    ],
    "motion_translation": [
        "Describe what this hand motion does: {motion}",
        "Which instruction does this hand motion follow? {motion}",
    ],
    "motion_prediction": [
        "{instr}. The hand has moved like this: {motion} Continue the motion.",
        "Instruction: {instr}. Motion so far: {motion} Predict the rest.",
    ],
}


@dataclass(frozen=True)
class Conversation:
    task: str
    prompt: str  # user text (image placeholder already inserted)
    response: str  # assistant text, supervised

    def prompt_text(self) -> str:
        return f"{IM_START}user\n{self.prompt}{IM_END}\n{IM_START}assistant\n"

    def full_text(self) -> str:
        return self.prompt_text() + self.response + IM_END


def build_conversation(task: str, instruction: str, motion_text: str, image_text: str, rng: np.random.Generator,
                       history_text: str = "") -> Conversation:
    """Fill one template. ``motion_text``/``history_text`` are ``<MOT>..</MOT>`` strings."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    phrase = _PHRASES[task][int(rng.integers(len(_PHRASES[task])))]
    instr = instruction.rstrip(".")
    if task == "motion_generation":
        return Conversation(task, image_text + "\n" + phrase.format(instr=instr), motion_text)
    if task == "motion_translation":
        return Conversation(task, image_text + "\n" + phrase.format(motion=motion_text), instr)
    return Conversation(task, image_text + "\n" + phrase.format(instr=instr, motion=history_text), motion_text)
