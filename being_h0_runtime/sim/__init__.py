"""The virtual rig: MuJoCo world (`world.VirtualRig`), task scenes (`task_scenes`), scripted experts (`expert`, `task_experts.make_expert`), episode loop (`episode`).

Submodules are imported explicitly (`from being_h0_runtime.sim.world import VirtualRig`)
so that importing this package does not pull in MuJoCo.
"""
