"""Render a video of a hand with known finger flexion and wrist motion, for the MediaPipe teleop path.

MediaPipe ships no test footage and nothing here may be downloaded, so this
builds a hand in MuJoCo: a skin-coloured palm, 5 fingers of 3 capsules each
(hinged at MCP/PIP/DIP, proportions of `handmodel.SyntheticHand`), a thumb and
a forearm, on a plain background, lit softly, filmed palm-on from ~50 cm.
Over the clip the fingers go open -> fist -> open while the wrist sweeps
sideways, and a JSON file beside the video records, per frame, the closure
that was rendered and where the wrist is (camera frame, metres; normalised
image coordinates), so a detector's output can be scored against it.

    MUJOCO_GL=egl python scripts/make_hand_video.py tests/fixtures/rendered_hand/hand.avi
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

SKIN = "0.87 0.66 0.54 1"
BACKGROUND = "0.30 0.36 0.42 1"
CAMERA_DISTANCE_M = 0.50
HFOV_DEG = 60.0  # WebcamConfig's default: the device's depth estimate assumes it
FINGERS = {  # name: (MCP x, MCP y) in the wrist frame, phalanx lengths, radius; from SyntheticHand
    "index": ((0.090, 0.025), (0.040, 0.025, 0.020), 0.0090),
    "middle": ((0.092, 0.000), (0.045, 0.028, 0.022), 0.0092),
    "ring": ((0.088, -0.018), (0.042, 0.026, 0.020), 0.0086),
    "little": ((0.082, -0.035), (0.032, 0.020, 0.018), 0.0076),
}
FINGER_MAX_DEG = (80.0, 95.0, 65.0)  # MCP, PIP, DIP flexion at closure 1
THUMB_CMC = (0.025, 0.030)
THUMB_BONES = (0.040, 0.032, 0.028)
THUMB_SPLAY_DEG = 40.0
THUMB_MAX_DEG = (50.0, 70.0)
THUMB_OPPOSITION_DEG = 25.0


def _finger_xml(name: str, mcp: tuple[float, float], lengths: tuple[float, ...], radius: float) -> str:
    """Three hinged capsules; each body's x axis runs along its phalanx, flexion turns x toward +z (palm side)."""
    yaw = math.degrees(math.atan2(mcp[1], mcp[0]))
    xml = f'<body name="{name}0" pos="{mcp[0]} {mcp[1]} 0" euler="0 0 {yaw:.3f}">'
    # metacarpal: fills the palm between the wrist and this knuckle
    back = math.hypot(*mcp) - 0.02
    xml += f'<geom type="capsule" fromto="{-back:.4f} 0 0 0 0 0" size="{radius * 1.45:.4f}"/>'
    for j, length in enumerate(lengths):
        r = radius * (1.0 - 0.08 * j)
        pos = "0 0 0" if j == 0 else f"{lengths[j - 1]} 0 0"
        xml += (f'<body name="{name}{j + 1}" pos="{pos}"><joint name="{name}_j{j}" axis="0 -1 0"/>'
                f'<geom type="capsule" fromto="0 0 0 {length} 0 0" size="{r:.4f}"/>')
    return xml + "</body>" * (len(lengths) + 1)


def _thumb_xml() -> str:
    r = 0.0105
    xml = (f'<body name="thumb0" pos="{THUMB_CMC[0] - 0.02} {THUMB_CMC[1] - 0.015} 0" euler="{THUMB_OPPOSITION_DEG} 0 '
           f'{THUMB_SPLAY_DEG}"><geom type="capsule" fromto="0 0 0 {THUMB_BONES[0]} 0 0" size="{r * 1.4}"/>')
    for j in (1, 2):
        xml += (f'<body name="thumb{j}" pos="{THUMB_BONES[j - 1]} 0 0"><joint name="thumb_j{j}" axis="0 -1 0"/>'
                f'<geom type="capsule" fromto="0 0 0 {THUMB_BONES[j]} 0 0" size="{r * (1 - 0.07 * j):.4f}"/>')
    return xml + "</body></body></body>"


def hand_mjcf(width: int, height: int, roll_deg: float = 0.0, pitch_deg: float = 0.0) -> str:
    """The scene: hand frame x = fingers (world +y, image up), z = palm side (world +z, toward the camera)."""
    vfov = math.degrees(2 * math.atan(math.tan(math.radians(HFOV_DEG) / 2) * height / width))
    fingers = "".join(_finger_xml(n, *spec) for n, spec in FINGERS.items())
    return f"""
<mujoco model="rendered_hand">
  <visual><global offwidth="{width}" offheight="{height}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.45 0.45 0.45" specular="0.02 0.02 0.02"/>
    <quality shadowsize="0"/></visual>
  <default><geom rgba="{SKIN}" contype="0" conaffinity="0"/><joint range="-10 120" limited="true"/></default>
  <worldbody>
    <light directional="true" pos="0.3 0.5 1" dir="-0.3 -0.5 -1" diffuse="0.35 0.35 0.35" specular="0 0 0"
           castshadow="false"/>
    <geom type="plane" size="2 2 0.01" pos="0 0 -0.35" rgba="{BACKGROUND}"/>
    <camera name="cam" pos="0 0 {CAMERA_DISTANCE_M}" fovy="{vfov:.4f}"/>
    <body name="hand" mocap="true"><body name="palm" euler="{-pitch_deg} {roll_deg} 0"><body euler="0 0 90">
      <geom type="capsule" fromto="-0.26 0 -0.004 -0.005 0 -0.004" size="0.028"/>
      <geom type="ellipsoid" pos="0.045 -0.004 0" size="0.05 0.041 0.016"/>
      {fingers}{_thumb_xml()}
    </body></body></body>
  </worldbody>
</mujoco>"""


def trajectory(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(closure (n,), wrist position in the world (n, 3)): open, close, hold the fist, open; a sideways sweep."""
    s = np.linspace(0.0, 1.0, n)
    closure = np.clip(np.interp(s, [0.0, 0.15, 0.45, 0.6, 0.9, 1.0], [0, 0, 1, 1, 0, 0]), 0, 1)
    wrist = np.zeros((n, 3))
    wrist[:, 0] = 0.07 * np.sin(2 * math.pi * s)  # 7 cm each way, left-right in the image
    wrist[:, 1] = -0.09 + 0.02 * np.sin(4 * math.pi * s)  # a little up-down; the fingers point up
    return closure, wrist


def wrist_in_camera(wrist_world: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera frame (x right, y down, z out of the lens, metres) and normalised image coordinates of the wrist."""
    cam = np.stack([wrist_world[:, 0], -wrist_world[:, 1], CAMERA_DISTANCE_M - wrist_world[:, 2]], axis=1)
    f = 0.5 / math.tan(math.radians(HFOV_DEG) / 2)  # in image widths
    u = 0.5 + f * cam[:, 0] / cam[:, 2]
    v = 0.5 + f * cam[:, 1] / cam[:, 2] * width / height
    return cam, np.stack([u, v], axis=1)


def render(out: Path, n: int, width: int, height: int, fps: float, roll_deg: float = 0.0, pitch_deg: float = 0.0,
           fourcc: str = "MJPG") -> dict:
    import cv2
    import mujoco

    model = mujoco.MjModel.from_xml_string(hand_mjcf(width, height, roll_deg, pitch_deg))
    data = mujoco.MjData(model)
    closure, wrist = trajectory(n)
    qadr = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j): model.jnt_qposadr[j] for j in range(model.njnt)}
    renderer = mujoco.Renderer(model, height, width)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise SystemExit(f"{out}: OpenCV cannot write a {fourcc} video here")
    try:
        for k in range(n):
            data.mocap_pos[0] = wrist[k]
            for name, adr in qadr.items():
                finger, j = name.split("_j")
                deg = THUMB_MAX_DEG[int(j) - 1] if finger == "thumb" else FINGER_MAX_DEG[int(j)]
                data.qpos[adr] = math.radians(deg) * closure[k]
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera="cam")
            writer.write(cv2.cvtColor(renderer.render(), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
        renderer.close()
    os.replace(tmp, out)
    cam, img = wrist_in_camera(wrist, width, height)
    truth = {"fps": fps, "width": width, "height": height, "hfov_deg": HFOV_DEG,
             "closure": closure.round(4).tolist(), "wrist_cam_m": cam.round(5).tolist(),
             "wrist_image": img.round(5).tolist()}
    truth_path = out.with_suffix(".json")
    truth_path.with_suffix(".json.part").write_text(json.dumps(truth))
    os.replace(truth_path.with_suffix(".json.part"), truth_path)
    return truth


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="video to write (.avi); the ground truth goes to OUT.json")
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--size", default="480x360", help="WIDTHxHEIGHT (default 480x360)")
    p.add_argument("--fps", type=float, default=15.0)
    # palm-on, a fist's fingers point at the lens and their curl is hard to see (curl correlation 0.74 at
    # roll 0 vs 0.98 at roll 30 in MediaPipe's estimate): turn the hand a little, as a webcam operator does
    p.add_argument("--roll", type=float, default=30.0, help="turn the hand about its long axis (degrees, default 30)")
    p.add_argument("--pitch", type=float, default=0.0, help="lean the fingers away from the camera (degrees)")
    p.add_argument("--fourcc", default="mp4v", help="codec (default mp4v: 90 frames at 480x360 ~150 kB; MJPG ~4x)")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("MUJOCO_GL", "egl")
    render(args.out, args.frames, width, height, args.fps, args.roll, args.pitch, args.fourcc)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} kB, {args.frames} frames) and "
          f"{args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
