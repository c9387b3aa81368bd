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

"""``enet-ros train``: train ENet from a YAML config with ``key=value`` overrides.

Examples::

    enet-ros train --config config/train/boxes_synth.yaml data.root=/data/synth output=runs/boxes
    enet-ros train --config config/train/camvid.yaml optim.lr=1e-3 schedule.epochs=100
    enet-ros train --resume runs/boxes                      # continue after the last saved epoch
    enet-ros train --resume runs/boxes schedule.epochs=400  # ... and train longer
    torchrun --nproc_per_node 4 -m enet_ros.cli train --config ...   # DistributedDataParallel
"""

import argparse
import shlex
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('--config', metavar='FILE.yaml',
                        help='training config (sections data, model, input, augmentation, optim, '
                             "schedule, loss, log); default: the resumed run's config, or "
                             'the built-in defaults')
    parser.add_argument('--resume', metavar='DIR_or_FILE',
                        help='continue a run from its folder (resume.pt) after the saved epoch')
    parser.add_argument('--print-config', action='store_true',
                        help='print the resolved config and exit')
    parser.add_argument('overrides', nargs='*', metavar='key=value',
                        help='config overrides with dotted keys, values parsed as YAML '
                             '(optim.lr=1e-3 schedule.epochs=50 input.resolution=[320,240])')


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, print where the checkpoints are; return 0."""
    import os

    from enet_ros.training.config import apply_overrides, dump, load_config, merge, validate
    from enet_ros.training.config import default_config
    from enet_ros.training.trainer import read_resume_state, train

    if args.config or not args.resume:
        config = load_config(args.config, args.overrides)
    else:
        saved = read_resume_state(args.resume)['config']
        config = merge(default_config(), saved)
        apply_overrides(config, args.overrides)
        validate(config)
        if not any(o.startswith('output=') for o in args.overrides):
            folder = args.resume if os.path.isdir(args.resume) else os.path.dirname(args.resume)
            config['output'] = folder or '.'
    if args.print_config:
        print(dump(config), end='')
        return 0
    command = ' '.join(shlex.quote(a) for a in [os.path.basename(sys.argv[0])] + sys.argv[1:])
    result = train(config, command=command, resume=args.resume)
    if int(os.environ.get('RANK', '0')) == 0:
        print(f'trained {result.epochs} epochs ({result.iterations} iterations) in '
              f'{result.wall_time_s:.0f} s -> {result.output}')
        print(f'  last: {result.last_checkpoint}')
        if result.best_checkpoint:
            print(f'  best: {result.best_checkpoint} (validation mIoU {result.best_miou:.4f})')
    return 0
