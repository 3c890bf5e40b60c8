"""Doctor checks of the host PC: DDS interface, PREEMPT_RT kernel, CPU governor, package versions."""

from __future__ import annotations

import glob
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from .result import FAIL, PASS, WARN, CheckResult

#: packages whose versions matter for a rig (distribution names)
PACKAGES = ("franky-control", "pyrealsense2", "pyserial", "cyclonedds", "numpy", "pydantic", "mujoco",
            "onnxruntime", "torch")


def check_dds_interface(interface: str) -> CheckResult:
    """The profile's DDS interface exists on this machine (and has an IPv4 address)."""
    from ..transport.dds_network import DdsNetwork, interface_addresses

    network = DdsNetwork(interface=interface)
    if network.from_environment:
        uri = os.environ.get("CYCLONEDDS_URI")
        if not uri:
            return CheckResult("dds interface", WARN, "profile defers to CYCLONEDDS_URI, which is not set: Cyclone "
                               "will pick an interface itself", "set dds.interface in the profile (e.g. lo)")
        return CheckResult("dds interface", PASS, f"from CYCLONEDDS_URI: {uri[:60]}")
    if network.loopback:
        return CheckResult("dds interface", PASS, "loopback only (all nodes on this PC)")
    found = interface_addresses()
    for name, addrs in found.items():
        if interface == name or interface in addrs:
            if not addrs:
                return CheckResult(f"dds {interface}", FAIL, "interface has no IPv4 address (down?)",
                                   f"ip link set {name} up and give it an address")
            return CheckResult(f"dds {interface}", PASS, f"{name} {', '.join(addrs)}")
    listing = ", ".join(f"{n} ({', '.join(a) or 'no address'})" for n, a in found.items())
    return CheckResult(f"dds {interface}", FAIL, f"no such interface; this machine has: {listing}",
                       "set dds.interface in the profile to one of them")


def check_realtime_kernel(sys_root: str = "/") -> CheckResult:
    """libfranka's 1 kHz loop needs PREEMPT_RT (or it aborts with communication_constraints_violation)."""
    flag = Path(sys_root, "sys/kernel/realtime")
    version = platform.uname().version
    rt = (flag.exists() and flag.read_text().strip() == "1") or "PREEMPT_RT" in version or "PREEMPT RT" in version
    if rt:
        return CheckResult("realtime kernel", PASS, version)
    return CheckResult("realtime kernel", FAIL, f"not a PREEMPT_RT kernel ({platform.release()})",
                       "install and boot a PREEMPT_RT kernel (Ubuntu Pro `pro enable realtime-kernel`, or build "
                       "one); add the user to a group with rtprio 99 in /etc/security/limits.conf")


def check_cpu_governor(sys_root: str = "/") -> CheckResult:
    """Frequency scaling adds latency spikes to the control loop; 'performance' avoids them."""
    files = sorted(glob.glob(os.path.join(sys_root, "sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")))
    if not files:
        return CheckResult("cpu governor", WARN, "cpufreq not exposed (VM/container?)",
                           "on the rig PC: sudo cpupower frequency-set -g performance")
    govs = {}
    for f in files:
        try:
            govs[Path(f).parent.parent.name] = Path(f).read_text().strip()
        except OSError:
            continue
    bad = sorted(c for c, g in govs.items() if g != "performance")
    if bad:
        kinds = sorted(set(govs[c] for c in bad))
        return CheckResult("cpu governor", FAIL, f"{len(bad)}/{len(govs)} CPUs not 'performance' ({', '.join(kinds)})",
                           "sudo cpupower frequency-set -g performance (persist via cpufrequtils or a systemd unit)")
    return CheckResult("cpu governor", PASS, f"all {len(govs)} CPUs 'performance'")


def check_packages(packages: Sequence[str] = PACKAGES) -> list[CheckResult]:
    out = []
    found = []
    for pkg in packages:
        try:
            found.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            optional = pkg not in ("numpy", "pydantic", "pyserial")
            out.append(CheckResult(f"package {pkg}", WARN if optional else FAIL, "not installed",
                                   f"pip install {pkg}"))
    out.insert(0, CheckResult("python packages", PASS, f"python {platform.python_version()}; " + ", ".join(found)))
    return out
