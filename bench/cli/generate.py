"""`fpbench generate`: make one video with a lab FramePack checkpoint (or, with --backend hunyuan,
the released FramePack model).

    fpbench generate --checkpoint results/checkpoints/fp_inverted.safetensors \\
        (--image start.png | --prompt "a red circle drifts left" | --test-item 3) \\
        --sections 12 --seed 0 --out video.mp4

The schedule and sampling order are read from the checkpoint's sidecar `<checkpoint>.json`
(written by the fine-tune recipe) unless given. Frames are streamed to the mp4 as each section
is final (inverted anti-drifting produces the end of the video first; the file is assembled in
time order). The prompt is written beside the video (video.txt), where `fpbench metrics` finds it.
Documentation: docs/cli.md.
"""


from __future__ import annotations

import argparse

from bench.cli._arg_types import seed

USAGE = """fpbench generate --checkpoint CKPT (--image PNG | --prompt TEXT | --test-item N) --out VIDEO.mp4 [options]
       fpbench generate --backend hunyuan --weights DIR --image PNG --out VIDEO.mp4 [options]"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate one video with a lab FramePack checkpoint",
        usage=USAGE,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=None, metavar="CKPT",
                        help="required with the lab backend: a lab checkpoint (.safetensors), e.g. "
                             "results/checkpoints/fp_inverted.safetensors")
    parser.add_argument("--backend", choices=("lab", "hunyuan", "skyreels-df"), default="lab",
                        help="lab (a PackedDiT checkpoint), hunyuan (the released FramePack model, --weights) or "
                             "skyreels-df (SkyReels-V2 diffusion forcing, --weights)")
    parser.add_argument("--weights", default=None,
                        help="hunyuan / skyreels-df: local weights folder in diffusers' layout (missing files "
                             "are listed with where they come from)")
    parser.add_argument("--cache", default=None, metavar="KIND[:KEY=VALUE,...]",
                        help="hunyuan / skyreels-df: a step cache on the transformer, e.g. first_block:threshold=0.05 "
                             "(kinds: first_block, mag, taylorseer, faster; skyreels-df: faster only)")
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None,
                        help="hunyuan / skyreels-df: transformer dtype (default bfloat16 on a GPU, float32 on the CPU)")
    parser.add_argument("--addnoise-condition", type=float, default=None,
                        help="skyreels-df: noise on the history latents, timestep scale 0..1000 (sigma_test x 1000; "
                             "default 20)")
    parser.add_argument("--ar-step", type=int, default=None,
                        help="skyreels-df: timestep lag between causal blocks (0 synchronous, default; 5 asynchronous)")
    parser.add_argument("--causal-block-size", type=int, default=None,
                        help="skyreels-df: latent frames per causal block (5 with --ar-step 5)")
    parser.add_argument("--end-image", default=None, help="hunyuan: end image (inverted order only)")
    parser.add_argument("--offload", choices=("none", "model", "sequential"), default=None,
                        help="hunyuan: CPU offloading (model ~16 GB GPU, sequential ~6 GB)")
    parser.add_argument("--vae-tiling", action="store_true", help="hunyuan: decode the VAE in tiles")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"),
                        help="hunyuan: output size in pixels (multiples of 16; default 640 640)")
    parser.add_argument("--device", default=None, help="hunyuan: cuda / cpu (default: cuda if available)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="start image (PNG/JPG; resized to 64x64) for image-to-video")
    source.add_argument("--prompt", help="text prompt (text-to-video unless --image is also implied)")
    source.add_argument("--test-item", type=int, help="index of an i2v test item (start frame + prompt)")
    parser.add_argument("--image-prompt", default=None, help="prompt to use with --image (default: empty)")
    parser.add_argument("--sections", type=int, default=2, help="number of sections (default 2)")
    parser.add_argument("--seed", type=seed, default=0, help="noise seed (default 0)")
    parser.add_argument("--out", required=True, help="output .mp4")
    parser.add_argument("--lossless", default=None, help="also write the frames losslessly to this .npz")
    parser.add_argument("--codec", default=None, help="codec checkpoint (default: the sidecar's or the lab codec)")
    parser.add_argument("--schedule", default=None, help="schedule notation (default: from the checkpoint sidecar)")
    parser.add_argument("--order", default=None, help="sampling order (default: from the sidecar / schedule form)")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps per section (default 25)")
    parser.add_argument("--solver", choices=("euler", "dpmpp_2m"), default=None,
                        help="flow-matching solver (default: euler; see docs/method.md)")
    parser.add_argument("--shift", type=float, default=None, help="time shift of the sampling grid (default 12)")
    parser.add_argument("--fps", type=int, default=None, help="frames per second of the mp4 (default 16; hunyuan 30)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.backend in ("hunyuan", "skyreels-df"):
        return run_full_scale(args)
    if args.checkpoint is None:
        raise ValueError("--checkpoint CKPT is required with the lab backend, e.g. --checkpoint "
                         "results/checkpoints/fp_inverted.safetensors (or --backend hunyuan --weights DIR)")
    from bench.generate import generate_video

    video = generate_video(
        checkpoint=args.checkpoint,
        image=args.image,
        prompt=args.prompt,
        test_item=args.test_item,
        image_prompt=args.image_prompt,
        sections=args.sections,
        seed=args.seed,
        out=args.out,
        lossless=args.lossless,
        codec=args.codec,
        schedule=args.schedule,
        order=args.order,
        steps=args.steps,
        solver=args.solver,
        shift=args.shift,
        fps=args.fps or 16,
    )
    lines = [f"wrote {video.path} ({video.frames} frames at {args.fps or 16} fps)"]
    if video.prompt_file is not None:
        lines.append(f"prompt in {video.prompt_file} (read by `fpbench metrics {video.path}`)")
    if args.lossless:
        lines.append(f"lossless frames in {args.lossless}")
    print("\n".join(lines))
    return 0


def run_full_scale(args: argparse.Namespace) -> int:
    from bench.generate_hunyuan import generate_full_scale_video

    if args.weights is None:
        raise ValueError(f"--backend {args.backend} needs --weights DIR (the local weights folder)")
    if args.test_item is not None:
        raise ValueError(f"--backend {args.backend} takes --image (with --image-prompt) or --prompt, not --test-item")
    height, width = args.size if args.size else (None, None)
    common = {"steps": args.steps, "offload": args.offload, "height": height, "width": width, "device": args.device,
              "dtype": args.dtype, "cache": parse_cache(args.cache)}
    if args.backend == "hunyuan":
        specific = {"order": args.order, "vae_tiling": args.vae_tiling or None}
    else:
        specific = {"addnoise_condition": args.addnoise_condition, "ar_step": args.ar_step,
                    "causal_block_size": args.causal_block_size}
    generate_full_scale_video(
        args.backend, weights=args.weights, out=args.out, image=args.image,
        prompt=(args.image_prompt or "") if args.image is not None else args.prompt,
        end_image=args.end_image, sections=args.sections, seed=args.seed, lossless=args.lossless, fps=args.fps,
        **common, **specific,
    )
    return 0


def parse_cache(text: str | None) -> dict | None:
    """`KIND[:KEY=VALUE,...]` -> the `cache:` param mapping (values read as YAML scalars)."""
    if text is None:
        return None
    import yaml

    kind, _, rest = text.partition(":")
    cache: dict = {"kind": kind.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"--cache {text!r}: expected KIND:KEY=VALUE,..., got {item!r} without '='")
        cache[key.strip()] = yaml.safe_load(value)
    return cache
