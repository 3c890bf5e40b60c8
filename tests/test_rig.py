"""The rig description: one place for robot facts, importable by every layer, depending on none."""

from __future__ import annotations

import ast
import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime import rig
from being_h0_runtime.drivers.hand import protocol
from being_h0_runtime.rig import franka, inspire

PACKAGE = Path(rig.__file__).resolve().parents[1]  # being_h0_runtime/


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the project modules `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(PACKAGE.parent).parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return out


def test_rig_imports_nothing_but_numpy_and_the_standard_library() -> None:
    code = ("import sys, being_h0_runtime.rig; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('being_h0_runtime', 'being_h0_train', 'mujoco', 'pydantic', 'yaml', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["being_h0_runtime", "being_h0_runtime.rig", "being_h0_runtime.rig.franka",
                   "being_h0_runtime.rig.inspire"]
    for path in (PACKAGE / "rig").glob("*.py"):
        project = {m for m in _imported_modules(path) if m.startswith("being_h0")}
        assert all(m.startswith("being_h0_runtime.rig") for m in project), (path.name, project)


#: Modules whose job involves the simulator itself: the virtual-rig node, calibration checked in the sim,
#: the scripted experts served as a policy.
SIM_USERS = {"nodes/virtual_rig.py", "calibration/sim_verify.py", "calibration/intrinsics.py",
             "policy/expert.py"}


@pytest.mark.parametrize("layer", ["nodes", "drivers", "teleop", "calibration", "safety", "policy", "recording"])
def test_robot_facts_do_not_come_from_the_simulator(layer: str) -> None:
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        sim = {m for m in _imported_modules(path) if m.startswith("being_h0_runtime.sim")}
        if sim and (rel not in SIM_USERS or any(m.startswith("being_h0_runtime.sim.franka") for m in sim)):
            offenders.append(f"{rel}: {sorted(sim)}")
    assert not offenders, "import robot facts from being_h0_runtime.rig, not the simulator:\n" + "\n".join(offenders)


def test_the_13_d_order_is_arm_then_hand() -> None:
    assert rig.JOINT_NAMES == rig.ARM_JOINT_NAMES + rig.HAND_DOF_NAMES
    assert rig.ARM_JOINT_NAMES == tuple(f"fr3_joint{i}" for i in range(1, 8))
    assert rig.HAND_DOF_NAMES == ("little", "ring", "middle", "index", "thumb_bend", "thumb_rotation")
    assert len(set(rig.JOINT_NAMES)) == 13


def test_ready_pose_is_frankas_and_inside_the_limits() -> None:
    assert rig.READY_Q == (0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4)
    assert all(type(v) is float for v in rig.READY_Q)  # a config default: YAML and pydantic take it as is
    q = np.array(rig.READY_Q)
    assert np.all(q > franka.Q_MIN) and np.all(q < franka.Q_MAX)
    T = franka.dh_fk(q)  # flange above the table in front of the base, pointing down
    np.testing.assert_allclose(T[:3, 3], [0.3069, 0.0, 0.5903], atol=2e-3)
    assert T[2, 2] == pytest.approx(-1.0, abs=1e-9)


def test_limits_are_consistent_and_cannot_be_edited_in_place() -> None:
    for vec in (franka.Q_MIN, franka.Q_MAX, franka.DQ_MAX, franka.DDQ_MAX, franka.DDDQ_MAX, franka.TAU_MAX):
        assert vec.shape == (franka.NUM_JOINTS,) and vec.dtype == np.float64
        with pytest.raises(ValueError, match="read-only"):
            vec[0] = 0.0
    assert np.all(franka.Q_MIN < franka.Q_MAX)
    assert np.all(franka.DQ_MAX > 0) and np.all(franka.DDQ_MAX > 0) and np.all(franka.DDDQ_MAX > 0)


def test_the_wire_protocol_uses_the_rigs_register_map() -> None:
    assert protocol.Register is inspire.Register and protocol.REGISTERS is inspire.REGISTERS
    assert protocol.NUM_DOF == len(inspire.DOF_NAMES) == 6
    # every multi-DoF register holds one value per DoF, and no two groups overlap
    groups = sorted(inspire.REGISTERS.values(), key=lambda r: r.address)
    assert all(r.count in (1, inspire.NUM_DOF) for r in groups)
    assert all(a.end <= b.address for a, b in itertools.pairwise(groups))
