"""The virtual rig's head camera: lazily created colour/depth renderers, intrinsics and optical-frame pose.

Split from ``world.py`` (the camera is one job; physics and contacts are others). No GL context exists
until the first render; ``VirtualRig`` closes the renderers whenever it rebuilds its model.
"""

from __future__ import annotations

import math
import os

import mujoco
import numpy as np


def quat_wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.array([q[1], q[2], q[3], q[0]])


def _ensure_headless_gl() -> None:
    """Fall back to EGL/OSMesa if mujoco was imported (choosing GLFW) before world.py set MUJOCO_GL.

    Without a display, GLFW cannot create a context; swapping the context class
    MuJoCo's Renderer uses is the only way short of re-importing mujoco.
    """
    if os.environ.get("DISPLAY"):
        return
    from mujoco.rendering.classic import gl_context

    cls = getattr(gl_context, "GLContext", None)
    if cls is not None and cls.__module__.split(".")[-1] in ("egl", "osmesa"):
        return
    try:
        from mujoco.egl import GLContext  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no EGL: try OSMesa
        from mujoco.osmesa import GLContext  # type: ignore[attr-defined,no-redef]
    gl_context.GLContext = GLContext


def camera_intrinsics(model: mujoco.MjModel, camera: int, image_size: tuple[int, int]) -> dict[str, float]:
    """Pinhole intrinsics of `camera` at `image_size` (OpenCV pixel convention)."""
    w, h = image_size
    fovy = math.radians(float(model.cam_fovy[camera]))
    f = (h / 2.0) / math.tan(fovy / 2.0)
    return {"width": w, "height": h, "fx": f, "fy": f, "cx": (w - 1) / 2.0, "cy": (h - 1) / 2.0}


def camera_optical_pose(data: mujoco.MjData, camera: int) -> tuple[np.ndarray, np.ndarray]:
    """Pose of the camera *optical* frame (z forward, x right, y down) in the base frame: (pos, quat xyzw)."""
    R_gl = data.cam_xmat[camera].reshape(3, 3)  # MuJoCo camera: -z forward, y up
    R = R_gl @ np.diag([1.0, -1.0, -1.0])
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, R.reshape(-1))
    return data.cam_xpos[camera].copy(), quat_wxyz_to_xyzw(q)


class CameraRenderers:
    """Colour and depth renderers of one image size, created on first use."""

    def __init__(self, image_size: tuple[int, int]) -> None:
        self.image_size = image_size
        self._rgb: mujoco.Renderer | None = None
        self._depth: mujoco.Renderer | None = None

    def _open(self, model: mujoco.MjModel) -> tuple[mujoco.Renderer, mujoco.Renderer]:
        if self._rgb is None or self._depth is None:
            w, h = self.image_size
            _ensure_headless_gl()
            self._rgb = mujoco.Renderer(model, height=h, width=w)
            self._depth = mujoco.Renderer(model, height=h, width=w)
            self._depth.enable_depth_rendering()
        return self._rgb, self._depth

    def render(self, model: mujoco.MjModel, data: mujoco.MjData, camera: int) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 RGB and aligned depth (H, W) uint16 millimetres (0 = no return)."""
        rgb_r, depth_r = self._open(model)
        rgb_r.update_scene(data, camera=camera)
        rgb = rgb_r.render().copy()
        depth_r.update_scene(data, camera=camera)
        z = depth_r.render()
        far = 0.99 * model.vis.map.zfar * model.stat.extent
        depth = np.where(z < far, np.round(z * 1000.0), 0).astype(np.uint16)
        return rgb, depth

    def render_rgb(self, model: mujoco.MjModel, data: mujoco.MjData, camera: int) -> np.ndarray:
        """Colour only (H, W, 3) uint8: no depth pass."""
        rgb_r, _ = self._open(model)
        rgb_r.update_scene(data, camera=camera)
        return rgb_r.render().copy()

    def rebind(self, model: mujoco.MjModel) -> None:
        """Point the open renderers at a recompiled `model`, keeping their GL contexts.

        The train variation recompiles the model at every reset; a fresh EGL context costs ~200 ms per
        renderer on software GL, a new MjrContext (textures, buffers) and MjvScene ~20 ms. mujoco.Renderer
        has no public way to change its model, so this sets the three attributes its constructor sets;
        where they are missing (another mujoco version) the renderers are closed and reopened on demand.
        """
        for r in (self._rgb, self._depth):
            if r is None:
                continue
            if getattr(r, "_gl_context", None) is None or not all(
                    hasattr(r, a) for a in ("_mjr_context", "_scene", "_model")):
                self.close()
                return
            r._gl_context.make_current()
            r._mjr_context.free()
            r._mjr_context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, r._mjr_context)
            r._mjr_context.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
            # room for every geom several times over; the constructor's 10000 costs ~40 ms to allocate
            r._scene = mujoco.MjvScene(model=model, maxgeom=max(1000, 4 * model.ngeom))
            r._model = model

    def close(self) -> None:
        """Release GL resources (idempotent)."""
        for r in (self._rgb, self._depth):
            if r is not None:
                r.close()
        self._rgb = self._depth = None
