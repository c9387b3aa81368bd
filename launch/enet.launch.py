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

"""Launch the enet_ros segmentation node, optionally with a camera driver.

Usage::

    ros2 launch enet_ros enet.launch.py image_topic:=/camera/image_raw
    ros2 launch enet_ros enet.launch.py camera:=realsense use_depth:=true
    ros2 launch enet_ros enet.launch.py jetson:=orin camera:=v4l2_camera
    ros2 launch enet_ros enet.launch.py --show-args

Arguments:
    namespace: Namespace of the node (outputs are ``<namespace>/<node_name>/mask`` ...).
        Default: empty (the root namespace).
    node_name: Name of the node. Default: ``enet``.
    params_file: Parameter YAML file. Default: empty, meaning ``config/enet.yaml``, or
        ``config/jetson_<jetson>.yaml`` when ``jetson`` is set.
    jetson: ``none``, ``orin`` or ``nano``: pick the Jetson parameter file (TensorRT, fp16,
        engine cache, input size) when ``params_file`` is empty. Default: ``none``.
    weights: Checkpoint path or ``package://`` URL overriding the parameter file's. Default:
        empty (keep the file's; empty there means the shipped ``models/enet_boxes.pt``).
    backend: ``torch``, ``onnxruntime`` or ``tensorrt`` overriding the parameter file's.
        Default: empty (keep the file's).
    device: ``cpu``, ``cuda`` or ``cuda:N`` overriding the parameter file's. Default: empty.
    image_topic: Colour image topic the node's ``image`` input is remapped to (with
        ``compressed:=true`` the node reads ``<image_topic>/compressed``). Default: empty,
        meaning the camera driver's topic (``camera``), or ``image`` without one.
    camera_info_topic: CameraInfo topic for ``camera_info``. Default: empty (as above).
    depth_topic: Aligned depth image topic for ``depth`` (16UC1 mm or 32FC1 m). Default:
        empty (as above; realsense: ``aligned_depth_to_color/image_raw``).
    compressed: ``true`` to subscribe to the compressed image transport
        (``input_transport: compressed``). Default: ``false`` (keep the file's).
    use_depth: ``true`` or ``false`` overriding the parameter file's. Default: empty.
    camera: Camera driver to start as well: ``none``, ``realsense`` (realsense2_camera
        ``rs_launch.py`` with ``align_depth.enable``), ``usb_cam`` (``usb_cam_node_exe``) or
        ``v4l2_camera`` (``v4l2_camera_node``). Default: ``none``.
    camera_namespace: Namespace of the camera driver. Default: ``camera``.
    video_device: Video device of ``usb_cam`` / ``v4l2_camera``. Default: ``/dev/video0``.
    use_sim_time: Use ``/clock`` (bag replay). Default: ``false``.
    log_level: Log level of the node (``debug``, ``info``, ``warn``, ``error``). Default:
        ``info``.

Large images between processes: unless the user already configured DDS (e.g.
``FASTRTPS_DEFAULT_PROFILES_FILE`` or ``CYCLONEDDS_URI`` set), this sets the variables of
``enet_ros.ros.dds.large_image_env_vars()`` (the shipped Fast DDS profile with a 64 MB
shared-memory segment) for every process it starts, the camera driver included.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction,
                            SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'enet_ros'
CAMERAS = ('none', 'realsense', 'usb_cam', 'v4l2_camera')
JETSON_BOARDS = ('none', 'orin', 'nano')


def camera_topics(camera, camera_namespace):
    """Return the default (image, camera_info, depth) topics of a camera driver.

    Args:
        camera: One of :data:`CAMERAS`.
        camera_namespace: Namespace the driver runs in (no leading slash needed).

    Returns:
        Three topic names; the node's own relative names for ``none``.
    """
    ns = '/' + camera_namespace.strip('/') if camera_namespace.strip('/') else ''
    if camera == 'realsense':
        # realsense2_camera >= 4.51: /<camera_namespace>/<camera_name>/...
        base = f'{ns}/camera'
        return (f'{base}/color/image_raw', f'{base}/color/camera_info',
                f'{base}/aligned_depth_to_color/image_raw')
    if camera in ('usb_cam', 'v4l2_camera'):
        return f'{ns}/image_raw', f'{ns}/camera_info', 'depth'
    return 'image', 'camera_info', 'depth'


def camera_actions(camera, camera_namespace, video_device):
    """Return the launch actions that start the chosen camera driver (empty for ``none``)."""
    if camera == 'realsense':
        launch_file = os.path.join(get_package_share_directory('realsense2_camera'), 'launch',
                                   'rs_launch.py')
        return [IncludeLaunchDescription(
            PythonLaunchDescriptionSource(launch_file),
            launch_arguments={'camera_namespace': camera_namespace, 'camera_name': 'camera',
                              'align_depth.enable': 'true', 'enable_sync': 'true'}.items())]
    if camera == 'usb_cam':
        return [Node(package='usb_cam', executable='usb_cam_node_exe', name='usb_cam',
                     namespace=camera_namespace, output='screen',
                     parameters=[{'video_device': video_device}])]
    if camera == 'v4l2_camera':
        return [Node(package='v4l2_camera', executable='v4l2_camera_node', name='v4l2_camera',
                     namespace=camera_namespace, output='screen',
                     parameters=[{'video_device': video_device}])]
    return []


def launch_setup(context):
    """Resolve the arguments and return the camera driver and node actions."""
    def arg(name):
        return LaunchConfiguration(name).perform(context).strip()

    camera, jetson = arg('camera'), arg('jetson')
    if camera not in CAMERAS:
        raise RuntimeError(f'camera:={camera} is not one of {", ".join(CAMERAS)}')
    if jetson not in JETSON_BOARDS:
        raise RuntimeError(f'jetson:={jetson} is not one of {", ".join(JETSON_BOARDS)}')
    share = get_package_share_directory(PACKAGE)
    params_file = arg('params_file') or os.path.join(
        share, 'config', 'enet.yaml' if jetson == 'none' else f'jetson_{jetson}.yaml')

    overrides = {'use_sim_time': arg('use_sim_time').lower() == 'true'}
    for name in ('weights', 'backend', 'device'):
        if arg(name):
            overrides[name] = arg(name)
    if arg('compressed').lower() == 'true':
        overrides['input_transport'] = 'compressed'
    if arg('use_depth'):
        overrides['use_depth'] = arg('use_depth').lower() == 'true'

    image, info, depth = camera_topics(camera, arg('camera_namespace'))
    image = arg('image_topic') or image
    info = arg('camera_info_topic') or info
    depth = arg('depth_topic') or depth
    if overrides.get('use_depth') and camera in ('usb_cam', 'v4l2_camera') \
            and not arg('depth_topic'):
        raise RuntimeError(f'use_depth:=true but camera:={camera} has no depth stream: set '
                           'depth_topic:=... or use camera:=realsense')

    node = Node(package=PACKAGE, executable='enet_node', name=arg('node_name') or 'enet',
                namespace=arg('namespace'), output='screen',
                parameters=[params_file, overrides],
                remappings=[('image', image), ('camera_info', info), ('depth', depth)],
                arguments=['--ros-args', '--log-level', arg('log_level') or 'info'])
    return camera_actions(camera, arg('camera_namespace'), arg('video_device')) + [node]


def large_image_environment():
    """Return SetEnvironmentVariable actions for the large-image DDS profile (none if user-set)."""
    try:
        from enet_ros.ros.dds import large_image_env_vars
    except ImportError:  # the Python package is not importable from this launch process
        return []
    return [SetEnvironmentVariable(name, value)
            for name, value in sorted(large_image_env_vars().items())]


def generate_launch_description():
    """Return the launch description (see the module docstring for the arguments)."""
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the node'),
        DeclareLaunchArgument('node_name', default_value='enet', description='name of the node'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='parameter YAML file; empty: config/enet.yaml, or '
                                          'config/jetson_<jetson>.yaml when jetson is set'),
        DeclareLaunchArgument('jetson', default_value='none', choices=['none', 'orin', 'nano'],
                              description='Jetson parameter file to use when params_file is '
                                          'empty (TensorRT, fp16, engine cache, input size)'),
        DeclareLaunchArgument('weights', default_value='',
                              description='checkpoint path or package:// URL; empty: keep the '
                                          "parameter file's (empty there: models/enet_boxes.pt)"),
        DeclareLaunchArgument('backend', default_value='',
                              description='torch | onnxruntime | tensorrt; empty: keep the '
                                          "parameter file's"),
        DeclareLaunchArgument('device', default_value='',
                              description='cpu | cuda | cuda:N; empty: keep the parameter '
                                          "file's"),
        DeclareLaunchArgument('image_topic', default_value='',
                              description="colour image topic; empty: the camera driver's (or "
                                          "'image'); compressed:=true reads <topic>/compressed"),
        DeclareLaunchArgument('camera_info_topic', default_value='',
                              description="CameraInfo topic; empty: the camera driver's (or "
                                          "'camera_info')"),
        DeclareLaunchArgument('depth_topic', default_value='',
                              description='aligned depth topic (16UC1 mm / 32FC1 m); empty: the '
                                          "camera driver's (or 'depth')"),
        DeclareLaunchArgument('compressed', default_value='false', choices=['true', 'false'],
                              description='subscribe to <image_topic>/compressed '
                                          '(sensor_msgs/CompressedImage)'),
        DeclareLaunchArgument('use_depth', default_value='', choices=['', 'true', 'false'],
                              description='pair each colour frame with the depth image; empty: '
                                          "keep the parameter file's"),
        DeclareLaunchArgument('camera', default_value='none',
                              choices=['none', 'realsense', 'usb_cam', 'v4l2_camera'],
                              description='camera driver to start as well: none | realsense | '
                                          'usb_cam | v4l2_camera'),
        DeclareLaunchArgument('camera_namespace', default_value='camera',
                              description='namespace of the camera driver'),
        DeclareLaunchArgument('video_device', default_value='/dev/video0',
                              description='video device of usb_cam / v4l2_camera'),
        DeclareLaunchArgument('use_sim_time', default_value='false', choices=['true', 'false'],
                              description='use /clock (bag replay)'),
        DeclareLaunchArgument('log_level', default_value='info',
                              description='log level of the node: debug | info | warn | error'),
        *large_image_environment(),
        OpaqueFunction(function=launch_setup),
    ])
