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

"""ament_python build description for enet_ros (colcon on ROS 2, or pip in a venv)."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'enet_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
        ('share/' + package_name + '/models', glob('models/*.pt') + glob('models/*.md')),
    ],
    # Only packages that carry pip metadata on a ROS install too (Debian's
    # python3-numpy/-yaml/-tqdm do,
    # python3-opencv does not): console scripts made by `setup.py install` check these at start-up.
    install_requires=['setuptools', 'numpy>=1.24', 'torch>=2.1,<3', 'PyYAML>=5.4', 'tqdm>=4.60'],
    extras_require={
        'opencv': ['opencv-python-headless>=4.8'],
        'export': ['onnx>=1.15', 'onnxruntime>=1.17', 'onnxscript>=0.1'],
        'train': ['albumentations>=1.4', 'matplotlib>=3.7', 'tensorboard>=2.14'],
        'replay': ['rosbags>=0.10'],
    },
    zip_safe=True,
    maintainer='enet_ros maintainers',
    maintainer_email='maintainers@enet-ros.invalid',
    description='ENet semantic segmentation and carton pose estimation as a ROS 2 node',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': ['enet-ros = enet_ros.cli:main', 'enet_node = enet_ros.ros.node:main']
    },
)
