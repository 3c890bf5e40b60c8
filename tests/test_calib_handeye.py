"""Hand-eye: the closed-form solvers on exact data, and the full capture-and-solve on the virtual rig."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from being_h0_runtime.calibration import handeye as he


def _rand_T(rng, scale):
    return he.make_T(Rotation.random(random_state=rng).as_matrix(), rng.normal(size=3) * scale)


@pytest.mark.parametrize("method", sorted(he.SOLVERS))
def test_solvers_exact_on_noise_free_motions(method: str) -> None:
    rng = np.random.default_rng(1)
    X, Y = _rand_T(rng, 1.0), _rand_T(rng, 0.1)
    F = [_rand_T(rng, 0.5) for _ in range(8)]
    C = [he.inv_T(X) @ f @ Y for f in F]
    e_mm, e_deg = he.pose_error(he.solve_ax_xb([he.inv_T(f) for f in F], C, method), X)
    assert e_mm < 1e-6 and e_deg < 1e-6
    with pytest.raises(ValueError, match="allowed"):
        he.solve_ax_xb([he.inv_T(f) for f in F], C, "magic")


def test_sim_hand_eye_within_2mm_and_0_2deg(tmp_path, capsys) -> None:
    """End to end on the virtual rig: board on the flange, planned views, detection, solve vs camera_pose()."""
    from being_h0_runtime.calibration import cli

    out = tmp_path / "virtual"
    rc = cli.main(["hand-eye", "--sim", "--views", "16", "--rig-dir", str(out), "--save-views", str(tmp_path / "v")])
    text = capsys.readouterr().out
    assert rc == 0, text
    # the solver comparison table, every solver plus the refinement, with errors against ground truth
    for m in ("tsai", "park", "horaud", "andreff", "daniilidis", "reprojection"):
        assert m in text
    assert "err mm" in text
    from being_h0_runtime.calibration import schema
    from being_h0_runtime.calibration.sim_verify import BoardRig

    he_file = schema.load_hand_eye(out)
    rig = BoardRig(image_size=(64, 48))
    truth = he.pose_to_T(*rig.camera_pose())
    rig.close()
    e_mm, e_deg = he.pose_error(he_file.matrix(), truth)
    assert e_mm < 2.0 and e_deg < 0.2, (e_mm, e_deg)
    assert he_file.n_samples >= 12 and he_file.method == "reprojection"
    assert {a.method for a in he_file.alternatives} == set(he.SOLVERS)
    assert (tmp_path / "v" / "poses.yaml").exists()
    # an offline re-solve from the saved views gives the same answer
    rc = cli.main(["hand-eye", "--from", str(tmp_path / "v"), "--rig-dir", str(out), "--sim-intrinsics",
                   "--dry-run"])
    assert rc == 0
