"""The model classes a torch engine runs; the training package builds and trains the same classes.

- ``vla``: ``BeingH0Model``, the InternVL backbone wrapper with motion tokens (kept whole: the model
  readable in one file); ``vla_config`` its presets, ``vla_tokenizer`` the extended tokenizer.
- ``posttrain``: ``PostTrainModel`` (frozen backbone + action queries, proprio token, MLP head) and
  ``NormStats``; ``posttrain_config`` its ``PostTrainConfig`` (saved beside the weights).
- ``official``: ``OfficialAlignModel``, a converted official Being-H0 Align checkpoint; ``official_spec``
  the ``official_vla.json`` it is built from.

They live in the runtime because inference needs them (``policy/backends/torch.py``); ``being_h0_train``
imports them from here (training depends on the runtime, never the reverse). Nothing is imported at
package import: each module needs torch (and transformers), which the rest of the runtime does not.
"""
