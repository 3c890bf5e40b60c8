"""Hand motion: rotations, feature layouts, MANO layer, clips, HaMeR conversion, alignment."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from being_h0_train.motion import (
    LAYOUTS,
    ManoLayer,
    ManoParams,
    SyntheticConfig,
    features_to_params,
    generate_clip,
    hamer_frames_to_clip,
    load_clip,
    params_to_features,
    project,
    synthetic_mano_arrays,
)
from being_h0_train.motion.alignment import apply_affine, augment_clip, augment_depth, augment_rotation, canonicalize_camera
from being_h0_train.motion.clip import Intrinsics, cam_crop_to_full
from being_h0_train.motion.mano import save_mano_npz
from being_h0_train.motion.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_rot6d,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_axis_angle,
    rot6d_to_matrix,
)

torch.set_num_threads(1)  # shared 2-core box: multi-thread spin-waits are ~10x slower


def _random_aa(rng, n, max_angle=np.pi - 1e-3):
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0, max_angle, (n, 1))


def test_rotation_round_trips_numpy_and_torch():
    rng = np.random.default_rng(0)
    aa = _random_aa(rng, 2000)
    aa[0] = 0.0
    aa[1] = [1e-10, 0, 0]
    r = axis_angle_to_matrix(aa)
    assert np.allclose(r @ np.swapaxes(r, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(r), 1.0)
    assert np.allclose(matrix_to_axis_angle(r), aa, atol=1e-9)
    assert np.allclose(rot6d_to_matrix(matrix_to_rot6d(r)), r, atol=1e-12)
    assert np.allclose(rot6d_to_axis_angle(axis_angle_to_rot6d(aa)), aa, atol=1e-9)
    # angle exactly pi: axis-angle is defined up to sign; the matrix must round-trip
    pi_aa = np.array([[0.0, np.pi, 0.0]])
    assert np.allclose(axis_angle_to_matrix(matrix_to_axis_angle(axis_angle_to_matrix(pi_aa))), axis_angle_to_matrix(pi_aa), atol=1e-9)
    t = torch.tensor(aa, dtype=torch.float64, requires_grad=True)
    back = rot6d_to_axis_angle(axis_angle_to_rot6d(t))
    assert torch.allclose(back, t, atol=1e-9)
    d6 = axis_angle_to_rot6d(t)
    d6.sum().backward()
    assert torch.isfinite(t.grad).all()
    # known value: 90 deg about z maps x to y
    rz = axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))
    assert np.allclose(rz @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    with pytest.raises(TypeError):
        axis_angle_to_matrix([0.0, 0.0, 1.0])


def _params(rng, t=8):
    return ManoParams(_random_aa(rng, t, 2.5), _random_aa(rng, 15 * t, 1.5).reshape(t, 45),
                      np.broadcast_to(rng.normal(size=10), (t, 10)), rng.normal(size=(t, 3)) * 0.1 + [0, 0, 0.5])


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_feature_layout_round_trips(name):
    rng = np.random.default_rng(1)
    layout = LAYOUTS[name]
    p = _params(rng)
    joints = rng.normal(size=(8, 21, 3))
    x = params_to_features(p, layout, joints)
    assert x.shape == (8, int(name[1:])) == (8, layout.dim)
    p2, j2 = features_to_params(x, layout, betas=p.betas[0])
    assert np.allclose(axis_angle_to_matrix(p2.rot_aa.reshape(8, 16, 3)), axis_angle_to_matrix(p.rot_aa.reshape(8, 16, 3)), atol=1e-9)
    assert np.allclose(p2.transl, p.transl) and np.allclose(p2.betas, p.betas)
    if "joints" in layout.blocks:
        assert np.allclose(j2, joints)
    assert np.allclose(params_to_features(p2, layout, j2), x, atol=1e-9)  # features -> params -> features exact
    w, f = layout.part_indices("wrist"), layout.part_indices("fingers")
    assert sorted(np.concatenate([w, f]).tolist()) == list(range(layout.dim))
    with pytest.raises(ValueError, match=name):
        features_to_params(x[:, :-1], layout)


def test_mano_layer_from_npz_and_pickle(tmp_path):
    arrays = synthetic_mano_arrays()
    npz = save_mano_npz(tmp_path / "MANO_RIGHT.npz", arrays)
    pkl = tmp_path / "MANO_RIGHT.pkl"
    with open(pkl, "wb") as fh:
        import scipy.sparse

        pickle.dump({**arrays, "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"])}, fh)
    a, b = ManoLayer.from_file(npz), ManoLayer.from_file(pkl)
    rng = np.random.default_rng(2)
    go = torch.tensor(_random_aa(rng, 4, 2.0), dtype=torch.float32)
    hp = torch.tensor(_random_aa(rng, 60, 1.0).reshape(4, 45), dtype=torch.float32)
    tr = torch.randn(4, 3)
    oa, ob = a(go, hp, transl=tr), b(go, hp, transl=tr)
    assert oa.joints.shape == (4, 21, 3)
    assert torch.allclose(oa.joints, ob.joints, atol=1e-6)
    # zero pose: joints = rest joints (+transl); FK preserves bone lengths under any pose
    z = a(torch.zeros(1, 3), torch.zeros(1, 45))
    assert torch.allclose(z.joints[0, :16], a.rest_joints(torch.zeros(10)), atol=1e-6)
    rest = a.rest_joints(torch.zeros(10))
    for j, p in enumerate(a.parents[1:], start=1):
        bl = (oa.joints[:, j] - oa.joints[:, p]).norm(dim=-1)
        assert torch.allclose(bl, (rest[j] - rest[p]).norm().expand(4), atol=1e-5)
    # global rotation rotates everything about the wrist
    r = axis_angle_to_matrix(go[:1])
    o0 = a(torch.zeros(1, 3), hp[:1])
    o1 = a(go[:1], hp[:1])
    w = o0.joints[0, 0]
    assert torch.allclose(o1.joints[0], (o0.joints[0] - w) @ r[0].T + w, atol=1e-5)
    # PCA pose
    pca = ManoLayer(arrays, use_pca=True)
    assert pca(go, torch.zeros(4, 6)).joints.shape == (4, 21, 3)


def test_mano_file_errors(tmp_path):
    arrays = synthetic_mano_arrays()
    bad = dict(arrays)
    bad["weights"] = bad["weights"][:, :10]
    save_mano_npz(tmp_path / "bad.npz", bad)
    with pytest.raises(ValueError, match="weights"):
        ManoLayer.from_file(tmp_path / "bad.npz")
    del bad["posedirs"]
    save_mano_npz(tmp_path / "bad2.npz", bad)
    with pytest.raises(ValueError, match="posedirs"):
        ManoLayer.from_file(tmp_path / "bad2.npz")
    with pytest.raises(FileNotFoundError):
        ManoLayer.from_file(tmp_path / "nope.npz")


def test_synthetic_clip_save_load_and_keypoints(tmp_path):
    rng = np.random.default_rng(3)
    clip = generate_clip(rng, SyntheticConfig(num_frames=24))
    assert clip.frames.shape == (24, 112, 112, 3) and clip.keypoints_2d.shape == (24, 21, 2)
    assert clip.meta.instructions and clip.meta.objects
    # keypoints are inside the image for most frames and motion is smooth
    inside = (clip.keypoints_2d >= 0).all(-1) & (clip.keypoints_2d < 112).all(-1)
    assert inside.mean() > 0.7
    assert np.abs(np.diff(clip.params.transl, axis=0)).max() < 0.02
    # the rendered hand colour appears at the projected wrist
    u, v = np.round(clip.keypoints_2d[5, 0]).astype(int)
    if 0 <= u < 112 and 0 <= v < 112:
        assert clip.frames[5, v, u, 0] > 150
    clip.save(tmp_path / "c0")
    back = load_clip(tmp_path / "c0.npz")
    assert np.allclose(back.params.hand_pose, clip.params.hand_pose, atol=1e-6)
    assert back.meta == clip.meta.model_copy(update={"num_frames": 24})
    assert np.array_equal(back.frames, clip.frames)
    meta = json.loads((tmp_path / "c0.json").read_text())
    meta["fps"] = -1
    (tmp_path / "c0.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="c0.json: field fps"):
        load_clip(tmp_path / "c0")


def test_hamer_converter_recovers_params():
    rng = np.random.default_rng(4)
    n, w, h, f = 5, 640, 480, 1000.0
    go, hp = _random_aa(rng, n, 2.0), _random_aa(rng, 15 * n, 1.0).reshape(n, 45)
    betas = rng.normal(size=10)
    frames = []
    cams = []
    for i in range(n):
        s, tx, ty = rng.uniform(0.5, 1.5), rng.normal(scale=0.05), rng.normal(scale=0.05)
        cams.append((s, tx, ty))
        frames.append({"global_orient": axis_angle_to_matrix(go[i])[None], "hand_pose": axis_angle_to_matrix(hp[i].reshape(15, 3)),
                       "betas": betas, "pred_cam": np.array([s, tx, ty]), "box_center": np.array([300.0, 200.0]),
                       "box_size": 120.0, "is_right": 1})
    frames[2] = None
    clip = hamer_frames_to_clip(frames, fps=30, image_size=(w, h), focal_length=f, instructions=["wave"])
    assert clip.meta.hand == "right" and clip.valid.tolist() == [True, True, False, True, True]
    assert np.allclose(clip.params.global_orient[[0, 1, 3, 4]], go[[0, 1, 3, 4]], atol=1e-9)
    assert np.allclose(clip.params.hand_pose[2], clip.params.hand_pose[1])  # gap filled by nearest
    # the translation puts the hand root at the crop centre with the right depth
    s, tx, ty = cams[0]
    t = cam_crop_to_full(np.array([s, 0.0, 0.0]), np.array([300.0, 200.0]), np.float64(120.0), np.array([w, h], float), f)
    intr = Intrinsics(fx=f, fy=f, cx=w / 2, cy=h / 2, width=w, height=h)
    assert np.allclose(project(t, intr), [300.0, 200.0])
    assert np.isclose(t[2], 2 * f / (120 * s))
    # left hands: rotations mirrored back
    left = [dict(fr, is_right=0) for fr in frames if fr is not None]
    lc = hamer_frames_to_clip(left, fps=30, image_size=(w, h), focal_length=f)
    assert lc.meta.hand == "left"
    assert np.allclose(lc.params.global_orient[0], go[0] * [1, -1, -1], atol=1e-9)
    with pytest.raises(ValueError, match="mix"):
        hamer_frames_to_clip([frames[0], left[1]], fps=30, image_size=(w, h))


@pytest.fixture(scope="module")
def mano():
    return ManoLayer(synthetic_mano_arrays())


def _joints(mano, p):
    f = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    return mano.double()(f(p.global_orient), f(p.hand_pose), f(p.betas), f(p.transl)).joints.numpy()


def test_rotation_augmentation_is_exact(mano):
    clip = generate_clip(np.random.default_rng(5), SyntheticConfig(num_frames=8, render=False), mano)
    intr = clip.meta.intrinsics
    j0 = mano.double().rest_joints(torch.as_tensor(clip.params.betas[0]))[0].numpy()
    kp = project(_joints(mano, clip.params), intr)
    for theta in (0.3, -1.0, np.pi):
        p2, aff = augment_rotation(clip.params, j0, intr, theta)
        kp2 = project(_joints(mano, p2), intr)
        assert np.allclose(kp2, apply_affine(kp, aff), atol=1e-6)
        # hand shape (relative joints) is only rotated
        assert np.allclose(np.linalg.norm(_joints(mano, p2) - _joints(mano, p2)[:, :1], axis=-1),
                           np.linalg.norm(_joints(mano, clip.params) - _joints(mano, clip.params)[:, :1], axis=-1), atol=1e-9)


def test_depth_augmentation_and_canonicalisation_reproject(mano):
    clip = generate_clip(np.random.default_rng(6), SyntheticConfig(num_frames=8, render=False), mano)
    intr = clip.meta.intrinsics
    j0 = mano.double().rest_joints(torch.as_tensor(clip.params.betas[0]))[0].numpy()
    j = _joints(mano, clip.params)
    kp = project(j, intr)
    for k in (0.8, 1.25):
        p2, aff = augment_depth(clip.params, j0, intr, k)
        j2 = _joints(mano, p2)
        kp2 = project(j2, intr)
        assert np.allclose(kp2[0, 0], apply_affine(kp[0, 0], aff), atol=1e-6)  # anchor wrist exact
        err = np.abs(kp2 - apply_affine(kp, aff)).max()
        assert err < 0.03 * intr.width, err  # weak-perspective error is small
        assert np.isclose(j2[0, 0, 2], k * j[0, 0, 2])
    canon = Intrinsics(fx=600.0, fy=600.0, cx=256.0, cy=256.0, width=512, height=512)
    p3, aff = canonicalize_camera(clip.params, j0, intr, canon)
    kp3 = project(_joints(mano, p3), canon)
    assert np.allclose(kp3[:, 0], apply_affine(kp[:, 0], aff), atol=1e-6)
    assert np.abs(kp3 - apply_affine(kp, aff)).max() < 0.03 * canon.width
    # whole-clip augmentation keeps rendered keypoints consistent with the motion
    full = generate_clip(np.random.default_rng(7), SyntheticConfig(num_frames=6), mano)
    aug = augment_clip(full, j0=mano.double().rest_joints(torch.as_tensor(full.params.betas[0]))[0].numpy(), rng=np.random.default_rng(0))
    kp_aug = project(_joints(mano, aug.params), full.meta.intrinsics)
    assert np.abs(kp_aug - aug.keypoints_2d).max() < 0.03 * intr.width
    assert aug.frames.shape == full.frames.shape


def test_make_clips_cli(tmp_path):
    from being_h0_train.motion.make_clips import main

    assert main(["--out", str(tmp_path), "--num", "2", "--frames", "16", "--size", "64"]) == 0
    from being_h0_train.motion.clip import list_clips

    paths = list_clips(tmp_path)
    assert len(paths) == 2
    c = load_clip(paths[0])
    assert c.frames.shape == (16, 64, 64, 3) and len(c) == 16
