"""Run the checkpoints that BeingBeyond released (official ``BeingVLAModel`` layout) in this runtime.

- ``layout``:  read an official ``config.json`` (model_type "beingvla") and map its weight names
  (``vlm_adapter._vision_model.*`` InternViT with fused qkv and ls1/ls2, ``vlm_adapter.mlp1.{0,1,3}``,
  ``vlm_adapter._language_model.*``, ``proprio_encoder``, ``action_decoder``) onto transformers 5
  InternVL / Qwen2 modules, with the expected shape of every tensor (the converted spec itself,
  ``OfficialVLASpec``, is ``being_h0_runtime.policy.models.official_spec``).
- the model is ``being_h0_runtime.policy.models.official`` (the runtime runs it): ``OfficialAlignModel``,
  the Align (post-trained) inference graph built from transformers 5 classes: image tokens and the proprio token are spliced into the prompt at ``<IMG_CONTEXT>`` /
  ``<PROP_CONTEXT>``, the action chunk is decoded from the hidden states at ``<ACTION_CHUNK_i>``.
- ``convert``: streaming, shard-by-shard conversion to an engine folder (Align) or a post-training
  backbone folder (pre-trained checkpoints); ``being-h0 convert vla``.
- ``onnx``:    ``being-h0 engine build --backend onnx|tensorrt`` for converted engines.
"""
