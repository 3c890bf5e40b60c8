"""GPU readiness check: chunk latency of a 1B-shaped Being-H0 per execution path, each with parity against fp32.

Run by ``scripts/gpu_check.sh`` on a Linux machine with an NVIDIA GPU (CUDA
PyTorch, transformers 5.x, CPU onnxruntime; no TensorRT and no network are
fine). It builds the official Being-H0 1B shapes with random weights -
InternViT-300M + MLP projector + Qwen2.5-0.5B-shaped language model
(``internvl3-1b`` preset), one 448 px tile = 256 image tokens, 16 action
queries, 13 action dims - and times one action chunk (inputs host -> GPU,
forward, chunk GPU -> host) for:

    torch eager fp32        the reference every other row is compared with
    torch eager bf16
    torch.compile bf16      inductor, default mode
    CUDA graph replay bf16  the bf16 eager forward captured once, replayed
    onnxruntime CUDA        only when onnxruntime has CUDAExecutionProvider and onnx imports
    tensorrt                only when tensorrt imports (fp16 plan)

Rows that cannot run here are written as skipped with the reason; a row that
fails is written with the error, and the others still run. ``--sim`` adds one
closed-loop episode on the virtual rig (MuJoCo with MUJOCO_GL=egl) when its
packages import. The JSON is rewritten after every row, so a run stopped by the
8-minute limit still leaves what it measured; ``--budget-s`` makes the
expensive steps (compile, ONNX export) skip themselves when time runs short.

``--cpu-smoke`` runs every part that works without a GPU on the ``tiny``
shape (CPU, a few iterations; onnxruntime on its CPU provider so the export and
parity path runs too): the test suite uses it.

    python -m being_h0_train.gpu_check --out gpu_check.json
    python -m being_h0_train.gpu_check --cpu-smoke --out /tmp/smoke.json

Lives in the training package because it builds and exports training models
(random weights); the runtime's benchmarks time exported engine folders only.
Modules: ``runners`` (model, inputs, parity and one runner per execution path),
``check`` (the rows and their order), ``report`` (rows, environment, text
report, the sim episode), ``__main__`` (the command line).
"""
