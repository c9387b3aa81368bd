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

"""``enet-ros convert SRC DST``: a third-party ENet checkpoint into the enet_ros format."""

import argparse
import logging
import os

LOG = logging.getLogger('enet_ros.convert')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument('src', help='third-party checkpoint (.pth/.pt), possibly wrapped/prefixed')
    parser.add_argument('dst', help='output enet_ros checkpoint (.pt)')
    parser.add_argument(
        '--layout',
        default='auto',
        choices=['auto', 'seed', 'davidtvs-2018', 'davidtvs', 'ntkhoa95'],
        help='key layout of SRC (default: detect)',
    )
    parser.add_argument(
        '--classes',
        default=None,
        metavar='{camvid,cityscapes,FILE}',
        help='class list: built-in name or YAML/JSON file with names, colors, '
        'ignore_index (default: camvid for 12-class checkpoints)',
    )
    prep = parser.add_argument_group('preprocessing (default: what the layout trained with)')
    prep.add_argument('--channel-order', choices=['RGB', 'BGR'])
    prep.add_argument('--scale', type=float, help='multiplier on 0..255 values (1/255 or 1)')
    prep.add_argument('--mean', type=float, nargs=3, metavar=('C0', 'C1', 'C2'))
    prep.add_argument('--std', type=float, nargs=3, metavar=('C0', 'C1', 'C2'))
    prep.add_argument('--resolution', metavar='WxH', help='network input size, or "none"')
    prep.add_argument('--resize-policy', choices=['stretch', 'letterbox', 'native'])
    bn = parser.add_argument_group('BatchNorm repair (seed-layout checkpoints)')
    bn.add_argument(
        '--recalibrate-bn',
        metavar='IMAGE_DIR',
        help='re-estimate BatchNorm running statistics over the images in IMAGE_DIR',
    )
    bn.add_argument(
        '--bn-layers',
        choices=['shared', 'all'],
        default='shared',
        help='which BatchNorm layers to re-estimate (default: those that were shared)',
    )
    bn.add_argument('--bn-passes', type=int, default=1, help='passes over the images (default 1)')
    bn.add_argument('--bn-limit', type=int, help='use at most N images')


def _preprocessing(args, default):
    import dataclasses

    from enet_ros.cli.common import parse_size

    changes = {}
    for name in ('channel_order', 'scale', 'resize_policy'):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    for name in ('mean', 'std'):
        if getattr(args, name) is not None:
            changes[name] = tuple(getattr(args, name))
    if args.resolution is not None:
        changes['resolution'] = (
            None if args.resolution.lower() == 'none' else parse_size(args.resolution)
        )
    return dataclasses.replace(default, **changes)


def run(args: argparse.Namespace) -> int:
    """Convert, optionally repair BatchNorm, save; return 0."""
    from enet_ros.classes import load_classes
    from enet_ros.cli.common import check_output_file
    from enet_ros.model.checkpoint import save_checkpoint
    from enet_ros.model.convert import convert_file, DEFAULT_PREPROCESSING

    check_output_file(args.dst, 'DST', 'model.pt')
    # A converted model may have a void output channel that is also its ignore index.
    classes = load_classes(args.classes, allow_ignored_class=True) if args.classes else None
    model, meta = convert_file(args.src, args.layout, classes)
    meta.preprocessing = _preprocessing(args, DEFAULT_PREPROCESSING[meta.provenance['layout']])
    print(
        f'{args.src}: layout {meta.provenance["layout"]}, {meta.arch.num_classes} classes, '
        f'preprocessing {meta.preprocessing.to_dict()}'
    )
    if args.recalibrate_bn:
        repair(model, meta, args)
    elif meta.provenance.get('needs_bn_repair'):
        LOG.warning(
            'this checkpoint shares BatchNorm statistics between layers (seed-code layout): '
            'converted as is it reproduces the original code exactly, which scores poorly in '
            'eval mode. Repair it: add --recalibrate-bn IMAGE_DIR (images like the training '
            'data, e.g. the validation split)'
        )
    save_checkpoint(args.dst, model, meta)
    print(f'wrote {args.dst} ({os.path.getsize(args.dst) / 1e6:.2f} MB)')
    return 0


def repair(model, meta, args) -> None:
    """Re-estimate BatchNorm statistics over ``args.recalibrate_bn``; record it in provenance."""
    import torch
    from tqdm import tqdm

    from enet_ros.data.formats import IMAGE_EXTENSIONS, read_image_rgb
    from enet_ros.inference.preprocess import Normalizer, plan_resize, preprocess, to_batch_tensor
    from enet_ros.model.bn_repair import recalibrate_batchnorm

    folder = args.recalibrate_bn
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'--recalibrate-bn {folder!r} is not a folder of images')
    files = sorted(
        os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS)
    )[: args.bn_limit]
    if not files:
        raise ValueError(
            f'--recalibrate-bn {folder!r} holds no images ({", ".join(IMAGE_EXTENSIONS)})'
        )
    prep = meta.preprocessing
    normalizer = Normalizer(prep)

    def batches():
        for path in files:
            image = read_image_rgb(path)
            plan = plan_resize(image.shape[:2], prep.resolution, prep.resize_policy)
            yield preprocess(to_batch_tensor([image], torch.device('cpu')), normalizer, plan)

    names = meta.provenance.get('shared_batchnorm') if args.bn_layers == 'shared' else None
    if args.bn_layers == 'shared' and not names:
        raise ValueError(
            'this checkpoint has no shared BatchNorm layers; use --bn-layers all to '
            're-estimate every BatchNorm anyway'
        )
    repaired = recalibrate_batchnorm(
        model,
        batches,
        names,
        passes=args.bn_passes,
        progress=lambda it: tqdm(it, total=len(files), desc='re-estimating BatchNorm', unit='img'),
    )
    meta.provenance['needs_bn_repair'] = False
    meta.provenance['bn_repair'] = {
        'images': os.path.abspath(folder),
        'num_images': len(files),
        'layers': args.bn_layers,
        'num_layers': len(repaired),
        'passes': args.bn_passes,
        'method': 'enet_ros.model.bn_repair.recalibrate_batchnorm (each shared BatchNorm use got '
        'its own copy of the affine parameters; running statistics re-estimated)',
    }
    meta.provenance['method'] += f'; BatchNorm repair over {len(files)} images'
