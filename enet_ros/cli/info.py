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

"""``enet-ros info CKPT``: what a checkpoint holds."""

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('weights', help='enet_ros checkpoint (.pt)')
    parser.add_argument('--json', action='store_true', help='print the metadata as JSON')


def run(args: argparse.Namespace) -> int:
    """Print the checkpoint's metadata; return 0."""
    from enet_ros.model.checkpoint import describe, read_checkpoint

    state, meta = read_checkpoint(args.weights)
    if args.json:
        print(json.dumps(meta.to_dict(), indent=2))
        return 0
    params = sum(
        v.numel()
        for k, v in state.items()
        if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))
    )
    print(f'{args.weights}: {params / 1e6:.3f} M parameters')
    for line in describe(meta):
        print(f'  {line}')
    return 0
