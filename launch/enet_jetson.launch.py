# Copyright 2026 enet_ros contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Launch the enet_ros node on a Jetson: enet.launch.py with config/jetson_<board>.yaml.

The Jetson parameter files select the TensorRT backend in fp16 on CUDA, a fixed network input
size (Orin 640x480, Nano 480x360) and the engine cache ``~/.cache/enet_ros/engines`` (the first
start builds the engine, later starts load it).

Usage::

    ros2 launch enet_ros enet_jetson.launch.py board:=orin camera:=realsense use_depth:=true
    ros2 launch enet_ros enet_jetson.launch.py board:=nano image_topic:=/camera/image_raw

Arguments:
    board: ``orin`` or ``nano``: which ``config/jetson_<board>.yaml`` to load. Default:
        ``orin``.
    namespace: Namespace of the node. Default: empty.
    weights: Checkpoint overriding the file's. Default: empty (the shipped model).
    image_topic: Colour image topic. Default: empty (the camera driver's, or ``image``).
    camera_info_topic: CameraInfo topic. Default: empty (as above).
    depth_topic: Aligned depth topic. Default: empty (as above).
    compressed: ``true`` to read ``<image_topic>/compressed``. Default: ``false``.
    use_depth: ``true`` / ``false`` overriding the file's. Default: empty.
    camera: ``none``, ``realsense``, ``usb_cam`` or ``v4l2_camera``. Default: ``none``.

Every other argument of enet.launch.py (``node_name``, ``device``, ``camera_namespace``,
``video_device``, ``use_sim_time``, ``log_level``) can be given too and reaches it unchanged.
The large-image DDS profile is set by enet.launch.py.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

FORWARDED = ('namespace', 'weights', 'image_topic', 'camera_info_topic', 'depth_topic',
             'compressed', 'use_depth', 'camera')


def generate_launch_description():
    """Return the launch description (see the module docstring for the arguments)."""
    enet_launch = os.path.join(get_package_share_directory('enet_ros'), 'launch',
                               'enet.launch.py')
    forwarded = {name: LaunchConfiguration(name) for name in FORWARDED}
    forwarded['jetson'] = LaunchConfiguration('board')
    return LaunchDescription([
        DeclareLaunchArgument('board', default_value='orin', choices=['orin', 'nano'],
                              description='Jetson board: loads config/jetson_<board>.yaml'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the node'),
        DeclareLaunchArgument('weights', default_value='',
                              description='checkpoint overriding the parameter file; empty: '
                                          'the shipped models/enet_boxes.pt'),
        DeclareLaunchArgument('image_topic', default_value='',
                              description="colour image topic; empty: the camera driver's"),
        DeclareLaunchArgument('camera_info_topic', default_value='',
                              description="CameraInfo topic; empty: the camera driver's"),
        DeclareLaunchArgument('depth_topic', default_value='',
                              description="aligned depth topic; empty: the camera driver's"),
        DeclareLaunchArgument('compressed', default_value='false', choices=['true', 'false'],
                              description='read <image_topic>/compressed'),
        DeclareLaunchArgument('use_depth', default_value='', choices=['', 'true', 'false'],
                              description="pair colour with depth; empty: keep the file's"),
        DeclareLaunchArgument('camera', default_value='none',
                              choices=['none', 'realsense', 'usb_cam', 'v4l2_camera'],
                              description='camera driver to start as well'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(enet_launch),
                                 launch_arguments=forwarded.items()),
    ])
