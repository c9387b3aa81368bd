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

"""DDS set-up for large camera images between processes (Fast DDS profile, Cyclone DDS config).

With Fast DDS defaults a participant's shared-memory segment is 512 KB, so best-effort images
larger than that (640x480 rgb8 and up) are mostly lost between two processes on one host. The
shipped profile ``config/fastdds_large_images.xml`` gives the shared-memory transport a 64 MB
segment. Fast DDS reads its profile file once, when the first participant of a process is
created, so :func:`apply_large_image_profile` must run before ``rclpy.init`` (and before any
other code creates a DDS participant), and :func:`large_image_env` gives the environment for
child processes (the node subprocess, ``enet-ros replay``).

Costs and interactions (measured with Jazzy's Fast DDS 2.14): each process that loads the profile
holds a 64 MB segment in /dev/shm (about 67 MB, committed); with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` rmw_fastrtps adds its own localhost transports (and a
default 512 KB segment) beside the profile's, and large frames are still delivered.

This module imports neither rclpy nor any message package, so it can run first.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import sys
from typing import Dict, Mapping, MutableMapping, Optional

_LOG = logging.getLogger(__name__)

PACKAGE_NAME = 'enet_ros'
FASTDDS_PROFILE_FILE = 'fastdds_large_images.xml'
CYCLONEDDS_CONFIG_FILE = 'cyclonedds_large_images.xml'

#: Fast DDS 2.x (Humble, Jazzy) reads the first; Fast DDS 3.x (Kilted and later) the second.
FASTDDS_PROFILE_ENV_VARS = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
#: Files Fast DDS loads from the working directory when no profile variable is set.
FASTDDS_CWD_PROFILE_FILES = ('DEFAULT_FASTRTPS_PROFILES.xml', 'DEFAULT_FASTDDS_PROFILES.xml')
#: Other Fast DDS variables that express a user's own transport choice.
FASTDDS_USER_TRANSPORT_ENV_VARS = ('FASTDDS_BUILTIN_TRANSPORTS',)
CYCLONEDDS_ENV_VAR = 'CYCLONEDDS_URI'
#: Set to 0, false, off or no to keep enet_ros from touching the DDS configuration at all.
OPT_OUT_ENV_VAR = 'ENET_ROS_LARGE_IMAGE_PROFILE'

FASTDDS_RMWS = ('rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
CYCLONEDDS_RMW = 'rmw_cyclonedds_cpp'
#: The RMW that ROS 2 Humble and Jazzy use when RMW_IMPLEMENTATION is unset.
DEFAULT_RMW = 'rmw_fastrtps_cpp'


def rmw_implementation(env: Optional[Mapping[str, str]] = None) -> str:
    """Return the RMW implementation a ROS 2 process started with ``env`` will use.

    Args:
        env: Environment to read; ``None`` reads ``os.environ``.

    Returns:
        ``RMW_IMPLEMENTATION`` when set and non-empty, else ``'rmw_fastrtps_cpp'`` (the Humble
        and Jazzy default).
    """
    env = os.environ if env is None else env
    return env.get('RMW_IMPLEMENTATION', '').strip() or DEFAULT_RMW


def find_config_file(name: str) -> Path:
    """Return the absolute path of a file shipped in the package's ``config/`` folder.

    Looks in the installed share directory first (``ament_index_python``, a colcon or apt
    install), then in the source tree's ``config/`` beside the package (editable install, or
    running from a checkout).

    Args:
        name: File name inside ``config/``, e.g. ``'fastdds_large_images.xml'``.

    Returns:
        Absolute path of an existing file.

    Raises:
        FileNotFoundError: Neither location holds the file; the message lists where it looked.
    """
    candidates = []
    try:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            candidates.append(Path(get_package_share_directory(PACKAGE_NAME)) / 'config' / name)
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset (a venv)
            pass
    except ImportError:  # pragma: no cover - ament_index_python comes with rclpy
        pass
    candidates.append(Path(__file__).resolve().parents[2] / 'config' / name)
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f'{name} not found; looked in: {", ".join(str(p) for p in candidates)}. Reinstall '
        f'{PACKAGE_NAME} (colcon build, or pip install -e . from the repository).')


def _user_fastdds_setting(env: Mapping[str, str]) -> Optional[str]:
    """Return a description of the user's own Fast DDS configuration, or ``None``."""
    for var in FASTDDS_PROFILE_ENV_VARS + FASTDDS_USER_TRANSPORT_ENV_VARS:
        if var in env:
            return f'{var}={env[var]!r}'
    for name in FASTDDS_CWD_PROFILE_FILES:
        if Path(name).is_file():
            return f'{Path(name).resolve()} in the working directory'
    return None


def _participants_may_exist() -> bool:
    """Return True when rclpy's default context is already initialised in this process."""
    rclpy = sys.modules.get('rclpy')
    if rclpy is None:
        return False
    try:
        return bool(rclpy.ok())
    except Exception:  # noqa: B902 - any failure just means we cannot tell
        return False


def apply_large_image_profile(env: Optional[MutableMapping[str, str]] = None) -> Optional[str]:
    """Point the DDS implementation at the shipped large-image configuration, unless set already.

    For Fast DDS (the default RMW): sets ``FASTRTPS_DEFAULT_PROFILES_FILE`` and
    ``FASTDDS_DEFAULT_PROFILES_FILE`` to ``config/fastdds_large_images.xml``, unless the user set
    either of them, set ``FASTDDS_BUILTIN_TRANSPORTS``, or has a ``DEFAULT_FASTRTPS_PROFILES.xml``
    or ``DEFAULT_FASTDDS_PROFILES.xml`` in the working directory. For
    ``RMW_IMPLEMENTATION=rmw_cyclonedds_cpp``: sets
    ``CYCLONEDDS_URI`` to ``file://.../config/cyclonedds_large_images.xml`` unless it is set. For
    other RMWs, or with ``ENET_ROS_LARGE_IMAGE_PROFILE=0``: changes nothing.

    It only helps if it runs before the first DDS participant of the process is created (before
    ``rclpy.init``); in a process where rclpy is already initialised it logs a warning (the
    setting still reaches child processes started afterwards).

    Args:
        env: Environment to update in place; ``None`` updates ``os.environ``.

    Returns:
        The absolute path of the configuration file this call put into effect, or ``None`` when
        it changed nothing.

    Raises:
        FileNotFoundError: The shipped configuration file is missing from the installation.
    """
    env = os.environ if env is None else env
    if env.get(OPT_OUT_ENV_VAR, '').strip().lower() in ('0', 'false', 'off', 'no'):
        _LOG.info('%s=%s: leaving the DDS configuration unchanged', OPT_OUT_ENV_VAR,
                  env[OPT_OUT_ENV_VAR])
        return None
    rmw = rmw_implementation(env)
    if rmw in FASTDDS_RMWS:
        user = _user_fastdds_setting(env)
        if user is not None:
            _LOG.info('Fast DDS configuration left as the user set it (%s)', user)
            return None
        path = str(find_config_file(FASTDDS_PROFILE_FILE))
        for var in FASTDDS_PROFILE_ENV_VARS:
            env[var] = path
        _LOG.info('large-image Fast DDS profile (64 MB shared-memory segment): %s=%s',
                  FASTDDS_PROFILE_ENV_VARS[0], path)
    elif rmw == CYCLONEDDS_RMW:
        if CYCLONEDDS_ENV_VAR in env:
            _LOG.info('Cyclone DDS configuration left as the user set it (%s=%r)',
                      CYCLONEDDS_ENV_VAR, env[CYCLONEDDS_ENV_VAR])
            return None
        path = str(find_config_file(CYCLONEDDS_CONFIG_FILE))
        env[CYCLONEDDS_ENV_VAR] = Path(path).as_uri()
        _LOG.info('large-image Cyclone DDS configuration: %s=%s', CYCLONEDDS_ENV_VAR,
                  env[CYCLONEDDS_ENV_VAR])
    else:
        _LOG.info('RMW %s: no large-image DDS configuration shipped; leaving it unchanged', rmw)
        return None
    if env is os.environ and _participants_may_exist():
        _LOG.warning('rclpy is already initialised in this process: the DDS configuration %s '
                     'applies to child processes only (apply it before rclpy.init)', path)
    return path


def large_image_env(base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return a copy of an environment with the large-image DDS configuration applied.

    Use it for child processes (``subprocess.Popen(..., env=large_image_env())``); the parent's
    environment is not changed. The same rules as :func:`apply_large_image_profile` apply: a
    user's own setting is kept.

    Args:
        base: Environment to start from; ``None`` copies ``os.environ``.

    Returns:
        A new dict of environment variables.
    """
    env = dict(os.environ if base is None else base)
    apply_large_image_profile(env)
    return env


def large_image_env_vars(base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return only the variables that :func:`large_image_env` would add or change.

    For launch files (one ``SetEnvironmentVariable`` action per item) and for printing.

    Args:
        base: Environment to start from; ``None`` reads ``os.environ``.

    Returns:
        ``{name: value}``; empty when the user's own configuration is kept or the RMW has none.
    """
    base = os.environ if base is None else base
    env = large_image_env(base)
    return {k: v for k, v in env.items() if base.get(k) != v}


def describe_dds_configuration(env: Optional[Mapping[str, str]] = None) -> str:
    """Return a one-line description of the DDS configuration, for the node's start-up log.

    Args:
        env: Environment to read; ``None`` reads ``os.environ``.

    Returns:
        E.g. ``'rmw_fastrtps_cpp, FASTRTPS_DEFAULT_PROFILES_FILE=/.../fastdds_large_images.xml'``
        or ``'rmw_fastrtps_cpp, Fast DDS defaults (512 KB shared-memory segment: large images
        may be lost between processes)'``.
    """
    env = os.environ if env is None else env
    rmw = rmw_implementation(env)
    if rmw in FASTDDS_RMWS:
        user = _user_fastdds_setting(env)
        if user is None:
            return (f'{rmw}, Fast DDS defaults (512 KB shared-memory segment: images over '
                    f'512 KB may be lost between processes)')
        return f'{rmw}, {user}'
    if rmw == CYCLONEDDS_RMW:
        uri = env.get(CYCLONEDDS_ENV_VAR)
        return f'{rmw}, {CYCLONEDDS_ENV_VAR}={uri!r}' if uri else f'{rmw}, Cyclone DDS defaults'
    return rmw
