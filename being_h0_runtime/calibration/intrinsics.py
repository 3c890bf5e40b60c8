"""Camera intrinsics: read the factory values from a RealSense, or refine them from ChArUco images.

Why both: the factory calibration a RealSense stores on the device is good
(and per resolution: each resolution is a different crop/scale of the
sensor), so it is the default; a board refinement (OpenCV calibrateCamera)
is for cameras whose optics were disturbed, or to verify the factory values.
Either way the result is one `StreamIntrinsics` entry per stream and
resolution in `calibration/<rig>/intrinsics.yaml`.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from .handeye import detect_charuco
from .schema import IntrinsicsFile, StreamIntrinsics


def from_realsense(camera: dict[str, Any], resolutions: Sequence[tuple[int, int]]) -> tuple[str, list[StreamIntrinsics]]:
    """Open the camera (or a `.db3` playback) once per resolution through the driver; colour intrinsics each.

    Depth is aligned to colour by the driver (`align_depth`), so the colour
    entry is the one every consumer needs. Returns (camera description, entries).
    """
    from ..drivers.camera.realsense import RealSenseCamera

    out, name = [], str(camera.get("serial") or camera.get("playback_file") or "realsense")
    for w, h in resolutions:
        cam = RealSenseCamera({**camera, "width": int(w), "height": int(h)})
        try:
            cam.configure()
            intr = cam.intrinsics()
            info = getattr(cam, "_device_info", {}) or {}
            if info.get("name") or info.get("serial"):
                name = f"{info.get('name', 'RealSense')} {info.get('serial', '')}".strip()
        finally:
            cam.close()
        model = intr.distortion_model if intr.distortion_model in ("plumb_bob", "equidistant") else "plumb_bob"
        coeffs = list(intr.distortion)
        coeffs = (coeffs + [0.0] * 5)[:5] if model == "plumb_bob" else (coeffs + [0.0] * 4)[:4]
        out.append(StreamIntrinsics(stream="color", width=intr.width, height=intr.height, fx=intr.fx, fy=intr.fy,
                                    cx=intr.cx, cy=intr.cy, distortion_model=model, distortion=coeffs,
                                    source="realsense"))
    return name, out


def refine_charuco(images: Sequence[np.ndarray], board: "cv2.aruco.CharucoBoard",
                   initial: StreamIntrinsics | None = None, fix_distortion: bool = False,
                   min_corners: int = 8) -> StreamIntrinsics:
    """OpenCV calibrateCamera on ChArUco corners (subpixel) from several views of the board.

    With `initial` the focal lengths/centre start from it (a RealSense's
    factory values); `fix_distortion` keeps distortion at zero (rectified
    streams, or the simulator).
    """
    obj, img = [], []
    size = None
    for im in images:
        size = (im.shape[1], im.shape[0])
        det = detect_charuco(im, board, min_corners)
        if det is not None:
            obj.append(det.object_points.astype(np.float32))
            img.append(det.corners.astype(np.float32).reshape(-1, 1, 2))
    if len(obj) < 4:
        raise ValueError(f"intrinsics refinement: the board was found in {len(obj)} of {len(images)} images; "
                         "need at least 4 (vary tilt and position, fill the image corners)")
    assert size is not None
    flags = 0
    if initial is not None:
        K0, d0 = initial.matrix(), np.asarray((initial.distortion + [0.0] * 5)[:5], float)
        flags |= cv2.CALIB_USE_INTRINSIC_GUESS
    else:
        f = 0.8 * size[0]
        K0, d0 = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]]), np.zeros(5)
    if fix_distortion:
        flags |= cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST
        d0 = np.zeros(5)
    rms, K, dist, _r, _t = cv2.calibrateCamera(obj, img, size, K0.copy(), d0.copy(), flags=flags)
    return StreamIntrinsics(stream="color", width=size[0], height=size[1], fx=float(K[0, 0]), fy=float(K[1, 1]),
                            cx=float(K[0, 2]), cy=float(K[1, 2]), distortion_model="plumb_bob",
                            distortion=[float(x) for x in np.ravel(dist)[:5]], source="charuco",
                            rms_px=float(rms), n_images=len(obj))


def from_sim(image_size: tuple[int, int]) -> StreamIntrinsics:
    """The virtual rig's exact pinhole model at `image_size`."""
    from ..sim.world import VirtualRig

    rig = VirtualRig(image_size=image_size)
    try:
        i = rig.camera_intrinsics()
    finally:
        rig.close()
    return StreamIntrinsics(stream="color", width=int(i["width"]), height=int(i["height"]), fx=i["fx"], fy=i["fy"],
                            cx=i["cx"], cy=i["cy"], source="simulator")


def merge(existing: IntrinsicsFile | None, entries: Sequence[StreamIntrinsics], camera: str,
          date: _dt.date | None = None) -> IntrinsicsFile:
    """Replace entries of the same stream/resolution, keep the others (one file per rig)."""
    keep = {s.key: s for s in (existing.streams if existing is not None else [])}
    for e in entries:
        keep[e.key] = e
    return IntrinsicsFile(date=date or _dt.date.today(), camera=camera, streams=list(keep.values()))


def load_images(folder: str | Path) -> list[np.ndarray]:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    out = []
    for p in paths:
        im = cv2.imread(str(p))
        if im is not None:
            out.append(im[:, :, ::-1].copy())
    return out
