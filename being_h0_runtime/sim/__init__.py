"""The virtual rig: MuJoCo world (`world.VirtualRig`), scripted expert (`expert`), episode loop (`episode`).

Submodules are imported explicitly (`from being_h0_runtime.sim.world import VirtualRig`)
so that importing this package does not pull in MuJoCo.
"""
