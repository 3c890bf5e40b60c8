"""ROS 2 launch file: turns a launch profile (launch/*.yaml) into launch_ros nodes.

    ros2 launch being_h0_runtime being_h0.launch.py profile:=rig

The YAML profile is the single source of truth; `being-h0 launch PROFILE`
reads the same file.  Each node runs `being_h0_runtime.node_main`, which
picks the rclpy transport automatically when rclpy is importable.
"""

import json
import sys
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context, *args, **kwargs):
    from being_h0_runtime.launch import load_profile

    profile = load_profile(LaunchConfiguration("profile").perform(context))
    from being_h0_runtime.transport.dds_network import cyclone_config_xml

    run_dir = LaunchConfiguration("run_dir").perform(context) or tempfile.mkdtemp(prefix="being_h0_")
    # every node's parameters before any node starts, as `being-h0 launch` does (raises ConfigError)
    from pathlib import Path

    from being_h0_runtime.launch import with_engine_execution

    # the engine manifest's recommended executor for actuators the profile leaves unpinned, as `being-h0 launch`
    overrides = with_engine_execution(profile, Path(run_dir))
    profile.validate_nodes(Path(run_dir), overrides)
    # the profile's network, as `being-h0 launch` uses it: rmw_cyclonedds reads CYCLONEDDS_URI
    env = {"ROS_DOMAIN_ID": str(profile.launch_domain())}
    xml = cyclone_config_xml(profile.dds)
    if xml is not None:
        env["CYCLONEDDS_URI"] = xml
        env["RMW_IMPLEMENTATION"] = "rmw_cyclonedds_cpp"
    actions = []
    for name in profile.nodes:
        actions.append(
            Node(
                package="being_h0_runtime",
                executable=sys.executable,
                name=name,
                arguments=["-m", "being_h0_runtime.node_main", "--profile", profile.source, "--node", name,
                           "--run-dir", run_dir, "--transport", "ros2",
                           "--params-json", json.dumps(overrides.get(name, {}))],
                parameters=[{"use_sim_time": profile.node_uses_sim_time(name)}],
                additional_env=env,
                output="screen",
                # actuators must not outlive a dead graph: any exit shuts the launch down
                on_exit=None,
            )
        )
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("profile", default_value="rig", description="launch profile name or YAML path"),
        DeclareLaunchArgument("run_dir", default_value="", description="runtime files (default: a temp dir)"),
        OpaqueFunction(function=_nodes),
    ])
