"""The Foxglove layout shipped as docs/foxglove_layout.json, built with foxglove-sdk's typed layout classes.

It names only topics that both the live view and a recorded episode's MCAP carry (the recorder's topic list),
so one layout serves both.  Joint states arrive per group (the arm's 7 joints and the hand's 6 on one topic,
in separate messages), so a plain ``/joint_states.position[0]`` would mix the arm's first joint with the
hand's; two small user scripts (TypeScript, run inside Foxglove) key the values by joint name instead:

* ``/studio_script/being_h0_joints``: ``measured.<joint>`` (from /joint_states) and ``commanded.<joint>`` (from /arm/command
  and /hand/command), each holding the newest value seen;
* ``/studio_script/being_h0_chunk``: the current action chunk as one array per action dimension, ``<joint>[step]``.

The file is in the format Foxglove's *Export layout* writes and *Import from file* reads (configById, a mosaic,
userNodes), converted from foxglove-sdk's typed layout classes (``--sdk-format`` prints the SDK's own JSON).
Regenerate after changing topics or joints:  python -m being_h0_runtime.view.layout > docs/foxglove_layout.json
(tests/test_view.py checks that the shipped file is current).
"""

from __future__ import annotations

import json
import sys

from ..recording.topics import DEFAULT_TOPIC_TYPES
from ..rig import ARM_JOINT_NAMES as ARM_JOINTS
from ..rig import HAND_DOF_NAMES as HAND_JOINTS

IMAGE_TOPIC = "/camera/color/image_raw/compressed"  # as recorded (JPEG) and as the live view sends it by default
# user-script outputs: Foxglove Studio 1.x (and its forks) require the /studio_script/ prefix; newer Foxglove takes any
JOINTS_SCRIPT_TOPIC = "/studio_script/being_h0_joints"
CHUNK_SCRIPT_TOPIC = "/studio_script/being_h0_chunk"
#: topics the layout reads; each is recorded (DEFAULT_TOPIC_TYPES, images as <topic>/compressed)
LAYOUT_TOPICS = (IMAGE_TOPIC, "/joint_states", "/arm/command", "/hand/command", "/action_chunk", "/task/status",
                 "/estop", "/diagnostics", "/teleop/intervention")

ARM_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
HAND_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _record_type(fields: tuple[str, ...], ts_type: str) -> str:
    return "{ " + " ".join(f"{j}: {ts_type};" for j in fields) + " }"


def joints_script(joints: tuple[str, ...] = ARM_JOINTS + HAND_JOINTS) -> str:
    """TypeScript user script: newest measured and commanded position per joint name."""
    init = "{ " + ", ".join(f"{j}: NaN" for j in joints) + " }"
    return f"""// Being-H0: joint positions keyed by joint name (the arm and the hand publish /joint_states separately).
import {{ Input }} from "./types";

type Joints = {_record_type(joints, "number")};
type Output = {{ measured: Joints; commanded: Joints }};

export const inputs = ["/joint_states", "/arm/command", "/hand/command"];
export const output = "{JOINTS_SCRIPT_TOPIC}";

const measured: Joints = {init};
const commanded: Joints = {init};

export default function script(
  event: Input<"/joint_states"> | Input<"/arm/command"> | Input<"/hand/command">,
): Output {{
  const target: Record<string, number> = event.topic === "/joint_states" ? measured : commanded;
  const names = event.message.name;
  const position = event.message.position;
  for (let i = 0; i < names.length; i++) {{
    if (names[i] in target) {{
      target[names[i]] = position[i];
    }}
  }}
  return {{ measured: {{ ...measured }}, commanded: {{ ...commanded }} }};
}}
"""


def chunk_script(joints: tuple[str, ...] = ARM_JOINTS + HAND_JOINTS) -> str:
    """TypeScript user script: the action chunk (row-major steps x dims) as one array per named dimension."""
    return f"""// Being-H0: the current action chunk, one array per action dimension (index = step).
import {{ Input }} from "./types";

type Output = {_record_type(joints, "number[]")};

export const inputs = ["/action_chunk"];
export const output = "{CHUNK_SCRIPT_TOPIC}";

export default function script(event: Input<"/action_chunk">): Output {{
  const m = event.message;
  const out: Record<string, number[]> = {{}};
  for (const j of {json.dumps(list(joints))}) {{
    out[j] = [];
  }}
  for (let d = 0; d < m.dims; d++) {{
    const values: number[] = [];
    for (let s = 0; s < m.steps; s++) {{
      values.push(m.data[s * m.dims + d]);
    }}
    out[m.names[d]] = values;
  }}
  return out as Output;
}}
"""


def build_layout():  # -> foxglove.layouts.Layout
    import foxglove.layouts as fl

    def tracking_plot(title: str, joints: tuple[str, ...], colours: tuple[str, ...]) -> fl.PlotPanel:
        paths = []
        for j, c in zip(joints, colours):
            paths.append(fl.PlotSeries(value=f"{JOINTS_SCRIPT_TOPIC}.measured.{j}", label=f"{j} measured", color=c))
            paths.append(fl.PlotSeries(value=f"{JOINTS_SCRIPT_TOPIC}.commanded.{j}", label=f"{j} commanded", color=c,
                                       line_style="dashed"))
        return fl.PlotPanel(title=title, config=fl.PlotConfig(
            paths=paths, x_axis_val="timestamp", following_view_width=15.0, y_axis_label="rad" if "arm" in title
            else "normalised", show_legend=True, legend_display="top", is_synced=True))

    chunk_plot = fl.PlotPanel(title="current action chunk (arm, per step)", config=fl.PlotConfig(
        paths=[fl.PlotSeries(value=f"{CHUNK_SCRIPT_TOPIC}.{j}[:]", label=j, color=c)
               for j, c in zip(ARM_JOINTS, ARM_COLOURS)],
        x_axis_val="index", x_axis_label="step", show_legend=True, legend_display="top"))
    hand_chunk_plot = fl.PlotPanel(title="current action chunk (hand, per step)", config=fl.PlotConfig(
        paths=[fl.PlotSeries(value=f"{CHUNK_SCRIPT_TOPIC}.{j}[:]", label=j, color=c)
               for j, c in zip(HAND_JOINTS, HAND_COLOURS)],
        x_axis_val="index", x_axis_label="step", show_legend=True, legend_display="top"))
    states = fl.StateTransitionsPanel(title="task and safety", config=fl.StateTransitionsConfig(
        paths=[fl.StateTransitionsSeries(value="/task/status.state", label="task state"),
               fl.StateTransitionsSeries(value="/estop.engaged", label="e-stop engaged"),
               fl.StateTransitionsSeries(value="/teleop/intervention.data", label="operator intervention")],
        is_synced=True, show_points=True))
    image = fl.ImagePanel(title="camera", config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic=IMAGE_TOPIC)))
    status = fl.RawMessagesPanel(title="task status", config=fl.RawMessagesConfig(topic_path="/task/status",
                                                                                  expansion="all"))
    estop = fl.RawMessagesPanel(title="e-stop (last)", config=fl.RawMessagesConfig(topic_path="/estop", expansion="all"))
    diagnostics = fl.DiagnosticsSummaryPanel(title="diagnostics",
                                             config=fl.DiagnosticsSummaryConfig(topic_to_render="/diagnostics"))

    def split(direction: str, *items: tuple[float, object]) -> fl.SplitContainer:
        return fl.SplitContainer(direction=direction, items=[fl.SplitItem(proportion=p, content=c) for p, c in items])

    left = split("column", (3, image), (2, fl.TabContainer(tabs=[
        fl.TabItem(title="task status", content=status), fl.TabItem(title="e-stop", content=estop),
        fl.TabItem(title="diagnostics", content=diagnostics)])))
    middle = split("column", (1, tracking_plot("arm: commanded (dashed) vs measured", ARM_JOINTS, ARM_COLOURS)),
                   (1, tracking_plot("hand: commanded (dashed) vs measured", HAND_JOINTS, HAND_COLOURS)),
                   (1, states))
    right = split("column", (1, chunk_plot), (1, hand_chunk_plot))
    return fl.Layout(
        content=split("row", (2, left), (3, middle), (2, right)),
        user_scripts={
            "being_h0_joints": fl.UserScript(name="joints by name", source_code=joints_script()),
            "being_h0_chunk": fl.UserScript(name="action chunk by dimension", source_code=chunk_script()),
        },
    )


def to_exported_format(sdk_layout: dict) -> dict:
    """foxglove-sdk's layout JSON (``version``/``content`` tree) -> the format Foxglove's *Export layout* writes and
    *Import from file* reads (``configById`` + a binary ``layout`` mosaic + ``userNodes``), which Foxglove Studio
    1.x and its forks read as well.  Panel ids are derived from the position in the tree, so output is stable."""
    config_by_id: dict[str, dict] = {}
    counter = iter(range(1, 1000))

    def node(content: dict) -> str | dict:
        kind = content["type"]
        if kind == "panel":
            pid = f"{content['panelType']}!bh0{next(counter):02d}"
            config = dict(content.get("config") or {})
            if content.get("title"):
                config["foxglovePanelTitle"] = content["title"]
            config_by_id[pid] = config
            return pid
        if kind == "tabs":
            pid = f"Tab!bh0{next(counter):02d}"
            config_by_id[pid] = {"activeTabIdx": content.get("selectedTabIndex", 0),
                                 "tabs": [{"title": t["title"], "layout": node(t["content"])} for t in content["tabs"]]}
            return pid
        if kind == "split":
            items = content["items"]
            return split(items, content.get("direction", "row"))
        raise ValueError(f"layout: unsupported container {kind!r}")

    def split(items: list[dict], direction: str) -> str | dict:
        # a mosaic node has two children: the first item against the rest, sized by their proportions
        if len(items) == 1:
            return node(items[0]["content"])
        first = items[0].get("proportion", 1)
        rest = sum(i.get("proportion", 1) for i in items[1:])
        return {"first": node(items[0]["content"]), "second": split(items[1:], direction), "direction": direction,
                "splitPercentage": round(100.0 * first / (first + rest), 2)}

    mosaic = node(sdk_layout["content"])
    user_nodes = {k: {"name": v["name"], "sourceCode": v["sourceCode"]}
                  for k, v in (sdk_layout.get("userScripts") or {}).items()}
    return {"configById": config_by_id, "globalVariables": sdk_layout.get("variables") or {},
            "userNodes": user_nodes, "playbackConfig": {"speed": 1}, "layout": mosaic}


def layout_json(sdk_format: bool = False) -> str:
    """The layout as pretty-printed JSON: Foxglove's exported-layout format (docs/foxglove_layout.json), or
    foxglove-sdk's own (``sdk_format``)."""
    sdk = json.loads(build_layout().to_json())
    return json.dumps(sdk if sdk_format else to_exported_format(sdk), indent=2) + "\n"


def recorded_topic_names() -> set[str]:
    """Topic names a recorded episode carries by default (images JPEG-compressed)."""
    from ..msgs import Image

    return {t + "/compressed" if cls is Image else t for t, (cls, _) in DEFAULT_TOPIC_TYPES.items()}


if __name__ == "__main__":
    sys.stdout.write(layout_json(sdk_format="--sdk-format" in sys.argv[1:]))
