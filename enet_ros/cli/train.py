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
    enet-ros train --config ... output=runs/boxes --overwrite  # replace the run in runs/boxes
    torchrun --nproc_per_node 4 -m enet_ros.cli train --config ...   # DistributedDataParallel

Overrides may come before and after the options. A new run refuses an ``output`` folder that
already holds a run (use another folder, ``--resume`` it, or ``--overwrite`` it). ``--resume``
writes to the resumed run's folder: ``output`` defaults to it, and another folder is refused.
"""

import argparse
import shlex
import sys

# Parse with parse_known_args: overrides after an option come back as unknown arguments.
PASS_UNKNOWN_ARGS = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('--config', metavar='FILE.yaml',
                        help='training config (sections data, model, input, augmentation, optim, '
                             "schedule, loss, log); default: the resumed run's config, or "
                             'the built-in defaults')
    parser.add_argument('--resume', metavar='DIR_or_FILE',
                        help='continue a run from its folder (resume.pt) after the saved epoch; '
                             'it writes to that folder (output defaults to it)')
    parser.add_argument('--overwrite', action='store_true',
                        help='delete the run already in the output folder (checkpoints, '
                             'resume.pt, log.csv, tb/, plots, config.yaml) before training')
    parser.add_argument('--print-config', action='store_true',
                        help='print the resolved config and exit')
    parser.add_argument('overrides', nargs='*', metavar='key=value',
                        help='config overrides with dotted keys, values parsed as YAML '
                             '(optim.lr=1e-3 schedule.epochs=50 input.resolution=[320,240]); '
                             'before or after the options')


def _overrides(args: argparse.Namespace) -> list:
    """Return all ``key=value`` overrides, in order, wherever they stood among the options.

    Raises:
        ValueError: For an unknown option.
    """
    extra = list(getattr(args, 'extra_args', None) or [])
    unknown = [a for a in extra if a.startswith('-')]
    if unknown:
        raise ValueError(f'unrecognized arguments: {" ".join(unknown)} (options: --config, '
                         '--resume, --overwrite, --print-config, --log-level; see '
                         'enet-ros train -h)')
    return list(args.overrides) + extra


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, print where the checkpoints are; return 0.

    Raises:
        ValueError: For bad options, config values or data, an output folder that holds another
            run (without ``--overwrite``) or is not the resumed run's, or a bad resume state.
        FileNotFoundError: For missing config, data or resume files.
    """
    import os

    from enet_ros.training.config import apply_overrides, dump, load_config, merge, validate
    from enet_ros.training.config import default_config, read_config_file
    from enet_ros.training.trainer import read_resume_state, resume_folder, train

    overrides = _overrides(args)
    if args.resume and args.overwrite:
        raise ValueError(f'--overwrite deletes the run that --resume {args.resume} continues: '
                         'give one of them, not both')
    if args.config or not args.resume:
        config = load_config(args.config, overrides)
    else:
        saved = read_resume_state(args.resume)['config']
        config = merge(default_config(), saved)
        apply_overrides(config, overrides)
        validate(config)
    if args.resume:
        # The resumed run's folder, unless output= is given (train() refuses another folder).
        given = any(o.split('=', 1)[0].strip() == 'output' for o in overrides)
        if args.config and 'output' in read_config_file(args.config):
            given = True
        if not given:
            config['output'] = resume_folder(args.resume)
    if args.print_config:
        print(dump(config), end='')
        return 0
    command = ' '.join(shlex.quote(a) for a in [os.path.basename(sys.argv[0])] + sys.argv[1:])
    result = train(config, command=command, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get('RANK', '0')) == 0:
        print(f'trained {result.epochs} epochs ({result.iterations} iterations) in '
              f'{result.wall_time_s:.0f} s -> {result.output}')
        print(f'  last: {result.last_checkpoint}')
        if result.best_checkpoint:
            print(f'  best: {result.best_checkpoint} (validation mIoU {result.best_miou:.4f})')
    return 0
