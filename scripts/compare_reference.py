"""Times clipcam's image encoder against ONNX Runtime and PyTorch on the same model, input size and threads.

Run through scripts/compare-reference, which documents the options. Steps: build clipcam (release); take --model
DIR or write a random model of --shape; load its vision tower with transformers (CLIPVisionModelWithProjection,
returning image_embeds) and export it to ONNX once in a temporary folder, checking that ONNX Runtime gives
PyTorch's output; then, for each thread count, time ONNX Runtime and PyTorch on one 1x3xSxS input (median of --runs
after 3 warm-ups) and run `clipcam bench --json` (fp32, then `--precision int8`) with the same threads and runs,
the engines taking turns in rounds. clipcam's figure is its encoder-only time, `image_encoder_ms`.
"""

import argparse
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPCAM = os.path.join(ROOT, ".build", "release", "clipcam")
WARMUP = 3
REQUIRED = ["torch", "transformers", "onnxruntime", "onnx"]
# clipcam bench's encoder-only time (no preprocessing), the figure compared with the other engines.
FIELD = "image_encoder_ms"


def log(message):
    print(f"compare-reference: {message}", file=sys.stderr, flush=True)


def fail(message):
    log(f"error: {message}")
    sys.exit(1)


def parse_arguments():
    parser = argparse.ArgumentParser(
        prog="scripts/compare-reference",
        description="Time clipcam's image encoder against ONNX Runtime and PyTorch (lower ratios are better).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="DIR", help="a CLIP model folder (Hugging Face layout)")
    source.add_argument(
        "--shape",
        default="vit-b-32",
        help="without --model: write a random model of this shape (vit-b-32, vit-b-16, tiny); default vit-b-32",
    )
    parser.add_argument("--threads", default="1 2", help='thread counts to compare, e.g. "1 2" (the default)')
    parser.add_argument(
        "--runs", type=int, default=20, help="timed runs per engine, spread over the rounds (default 20)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds in which the engines take turns; each engine's figure is the median of its round medians "
        "(default 5)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = parser.parse_args()
    try:
        args.thread_counts = [int(t) for t in args.threads.replace(",", " ").split()]
    except ValueError:
        parser.error(f'--threads takes whole numbers separated by spaces, e.g. "1 2"; got {args.threads!r}')
    if not args.thread_counts or min(args.thread_counts) < 1:
        parser.error(f"--threads needs at least one count of 1 or more; got {args.threads!r}")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    return args


def check_modules():
    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except Exception as error:  # a missing module, or one that is installed but cannot load
            missing.append(f"{name} ({type(error).__name__}: {error})")
    if missing:
        fail(
            f"Python cannot import {'; '.join(missing)}. The comparison needs {', '.join(REQUIRED)}: "
            "install them with `scripts/setup --reference`."
        )


def run(command, **kwargs):
    """Runs a command, its output to standard error unless captured; fails naming the command."""
    if not kwargs.get("capture_output"):
        kwargs.setdefault("stdout", sys.stderr)
    result = subprocess.run(command, cwd=ROOT, text=True, **kwargs)
    if result.returncode != 0:
        detail = f":\n{result.stderr.strip()}" if isinstance(result.stderr, str) and result.stderr else ""
        fail(f"`{' '.join(command)}` failed with status {result.returncode}{detail}")
    return result


def machine(load):
    cpu = None
    flags = set()
    identity = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                elif line.split(":", 1)[0].strip() in ("vendor_id", "cpu family", "model"):
                    identity.setdefault(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    cpu = cpu or platform.processor() or "unknown"
    # The vector extensions that decide which kernels the engines can use.
    extensions = [f for f in ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16"] if f in flags]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cpu_vendor": identity.get("vendor_id"),
        "cpu_family": identity.get("cpu family"),
        "cpu_model": identity.get("model"),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "vector_extensions": extensions,
        "system": platform.platform(),
        "load_average_1min_at_start": load,
    }


def versions(torch, transformers, ort, onnx):
    openblas = None
    if shutil.which("pkg-config"):
        found = subprocess.run(["pkg-config", "--modversion", "openblas"], capture_output=True, text=True)
        openblas = found.stdout.strip() or None
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return {
        "clipcam": commit.stdout.strip() or None,
        "openblas": openblas,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
    }


def median_ms(call, runs):
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1000


def clipcam_bench(model, threads, runs, precision=None):
    command = [CLIPCAM, "bench", "--model", model, "--threads", str(threads), "--runs", str(runs), "--json"]
    command += ["--pipeline-frames", "0", "--startup-runs", "0"]
    if precision:
        command += ["--precision", precision]
    result = run(command, capture_output=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        fail(f"`{' '.join(command)}` printed no JSON object: {result.stdout.strip()[:200]!r}")
    if not isinstance(report.get(FIELD), (int, float)):
        fail(f"`{' '.join(command)}` reported no {FIELD}: {result.stdout.strip()[:200]!r}")
    return report


def main():
    args = parse_arguments()
    check_modules()
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"warning: the load average is {load:.2f}; other processes compete for the cores and slow every engine")
    log("building clipcam (swift build -c release --product clipcam)")
    run(["swift", "build", "-c", "release", "--product", "clipcam"])

    with tempfile.TemporaryDirectory(prefix="clipcam-compare-") as scratch:
        if args.model:
            model = os.path.abspath(os.path.expanduser(args.model))
            if not os.path.isfile(os.path.join(model, "config.json")):
                fail(f"{model} has no config.json; give a CLIP model folder (Hugging Face layout) to --model")
        else:
            model = os.path.join(scratch, f"random-{args.shape}")
            log(f"writing a random {args.shape} model to {model}")
            run([CLIPCAM, "model", "random", "--shape", args.shape, "--seed", "1", "--out", model])

        vision = transformers.CLIPVisionModelWithProjection.from_pretrained(model, dtype=torch.float32).eval()
        size = vision.config.image_size

        class ImageEmbeds(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, pixel_values):
                return self.inner(pixel_values=pixel_values).image_embeds

        wrapper = ImageEmbeds(vision).eval()
        generator = torch.Generator().manual_seed(0)
        pixels = torch.randn(1, 3, size, size, generator=generator)
        onnx_path = os.path.join(scratch, "vision.onnx")
        log(f"exporting the vision tower to ONNX (opset 17, {onnx_path})")
        start = time.perf_counter()
        with torch.inference_mode():
            reference = wrapper(pixels).numpy()
        with warnings.catch_warnings():
            # The legacy (TorchScript) exporter's deprecation and tracer notes; the output check below is what counts.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (pixels,),
                onnx_path,
                input_names=["pixel_values"],
                output_names=["image_embeds"],
                opset_version=17,
                dynamo=False,
            )
        log(f"exported in {time.perf_counter() - start:.1f} s")
        feed = {"pixel_values": pixels.numpy()}

        def session(threads):
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])

        check = session(1)
        difference = float(np.abs(check.run(None, feed)[0] - reference).max())
        del check
        log(f"ONNX Runtime vs PyTorch on the same input: max abs difference {difference:.3g}")
        if not difference <= 1e-3:
            fail(
                f"ONNX Runtime's output differs from PyTorch's by {difference:.3g} (more than 1e-3); "
                "the ONNX export is wrong, so its timings would not be comparable"
            )

        results = []
        per_round = max(1, -(-args.runs // args.rounds))
        for threads in args.thread_counts:
            timed = session(threads)
            torch.set_num_threads(threads)
            samples = {"clipcam": [], "clipcam_int8": [], "onnxruntime": [], "pytorch": []}
            checks = []
            # The engines take turns, round after round, so that a slow spell of this machine (other virtual
            # machines on the host, frequency changes) falls on all of them alike; each engine's figure is the
            # median of its per-round medians.
            for round_index in range(args.rounds):
                log(f"{threads} thread(s), round {round_index + 1} of {args.rounds}")
                fp32 = clipcam_bench(model, threads, per_round)
                samples["clipcam"].append(fp32[FIELD])
                quantized = clipcam_bench(model, threads, per_round, "int8")
                samples["clipcam_int8"].append(quantized[FIELD])
                checks.append(quantized)
                samples["onnxruntime"].append(median_ms(lambda: timed.run(None, feed), per_round))
                with torch.inference_mode():
                    samples["pytorch"].append(median_ms(lambda: wrapper(pixels), per_round))
            del timed

            row = {"threads": threads}
            # Each round's own ratios, before the rounds are sorted: engines timed seconds apart share the
            # machine's speed of that moment, so the median of these is the steadiest comparison.
            def round_ratio(numerator, denominator):
                ratios = sorted(a / b for a, b in zip(samples[numerator], samples[denominator]))
                return ratios[len(ratios) // 2] if ratios else None

            row["per_round_ratios"] = {
                "clipcam_over_onnxruntime": round_ratio("clipcam", "onnxruntime"),
                "clipcam_int8_over_onnxruntime": round_ratio("clipcam_int8", "onnxruntime"),
                "clipcam_over_pytorch": round_ratio("clipcam", "pytorch"),
                "int8_speedup_over_fp32": round_ratio("clipcam", "clipcam_int8"),
            }
            for name, values in samples.items():
                if values:
                    row[f"{name}_rounds_in_order_ms"] = [round(v, 3) for v in values]
                    values = sorted(values)
                    row[f"{name}_ms"] = round(values[len(values) // 2], 3)
                    row[f"{name}_rounds_ms"] = [round(v, 3) for v in values]
            # The fp32 kernel clipcam chose for this CPU, and why (clipcam bench's own words).
            row["fp32_kernel"] = fp32.get("fp32_kernel")
            row["kernel_reason"] = fp32.get("kernel_reason")
            if checks:
                row["int8_min_cosine_to_fp32"] = min(float(c["min_cosine_to_fp32"]) for c in checks)
                row["int8_kernel"] = checks[0]["integer_kernel"]
                # clipcam bench's own figure: fp32 and int8 taking turns encoding by encoding in one process.
                turns = sorted(float(c["speedup_over_fp32"]) for c in checks)
                row["int8_speedup_taking_turns"] = turns[len(turns) // 2]
            for name in ["clipcam", "clipcam_int8"]:
                if f"{name}_ms" in row:
                    row[f"{name}_over_onnxruntime"] = row[f"{name}_ms"] / row["onnxruntime_ms"]
                    row[f"{name}_over_pytorch"] = row[f"{name}_ms"] / row["pytorch_ms"]
            if "clipcam_int8_ms" in row:
                row["int8_speedup_over_fp32"] = row["clipcam_ms"] / row["clipcam_int8_ms"]
            results.append(row)

    report = {
        "model": os.path.basename(model.rstrip("/")),
        "random": args.model is None,
        "image_size": size,
        "runs": args.runs,
        "rounds": args.rounds,
        "clipcam_field": FIELD,
        "onnx_max_abs_difference": difference,
        "machine": machine(load),
        "versions": versions(torch, transformers, ort, onnx),
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_tables(report)


def print_tables(report):
    m = report["machine"]
    v = report["versions"]
    print(
        f"machine: {m['cpu']} ({m['cpu_vendor']} family {m['cpu_family']} model {m['cpu_model']}), "
        f"{m['cores']} cores ({m['usable_cores']} usable; "
        f"{' '.join(m['vector_extensions']) or 'no AVX2'}); {m['system']}; "
        f"load average {m['load_average_1min_at_start']:.2f} at the start"
    )
    print(
        f"versions: clipcam {v['clipcam']} (OpenBLAS {v['openblas']}), torch {v['torch']}, "
        f"transformers {v['transformers']}, onnxruntime {v['onnxruntime']}, onnx {v['onnx']}"
    )
    kind = "random" if report["random"] else "given"
    print(
        f"model: {report['model']} ({kind}), input 1x3x{report['image_size']}x{report['image_size']}, "
        f"{report['rounds']} rounds taking turns, each a median of "
        f"{max(1, -(-report['runs'] // report['rounds']))} runs after {WARMUP} warm-ups, the median round "
        f"reported; ONNX vs PyTorch max abs difference "
        f"{report['onnx_max_abs_difference']:.3g}"
    )
    print(f"clipcam time: {report['clipcam_field']} (encoder only)")
    for row in report["results"]:
        print()
        print(f"threads {row['threads']}  (image encoder, ms per image; ratios: lower is better for clipcam)")
        print(f"  {'engine':<16} {'ms':>9} {'clipcam/ORT':>12} {'clipcam/PyTorch':>16}")
        for name, label in [("clipcam", "clipcam fp32"), ("clipcam_int8", "clipcam int8")]:
            if f"{name}_ms" in row:
                print(
                    f"  {label:<16} {row[f'{name}_ms']:>9.1f} {row[f'{name}_over_onnxruntime']:>12.2f} "
                    f"{row[f'{name}_over_pytorch']:>16.2f}"
                )
        print(f"  {'ONNX Runtime':<16} {row['onnxruntime_ms']:>9.1f}")
        if row.get("fp32_kernel"):
            print(f"  clipcam fp32 kernel: {row['fp32_kernel']} ({row['kernel_reason']})")
        print(f"  {'PyTorch':<16} {row['pytorch_ms']:>9.1f}")
        if "int8_speedup_over_fp32" in row:
            print(
                f"  int8 ({row['int8_kernel']} kernel): {row['int8_speedup_over_fp32']:.2f}x the fp32 path "
                f"({row['int8_speedup_taking_turns']:.2f}x with the two taking turns encoding by encoding), "
                f"min cosine to fp32 {row['int8_min_cosine_to_fp32']:.6f}"
            )
        r = row["per_round_ratios"]
        if r["clipcam_over_onnxruntime"] is not None:
            print(
                f"  median of the rounds' own ratios: fp32/ORT {r['clipcam_over_onnxruntime']:.2f}, "
                f"int8/ORT {r['clipcam_int8_over_onnxruntime']:.2f}, fp32/PyTorch {r['clipcam_over_pytorch']:.2f}, "
                f"int8 speed-up {r['int8_speedup_over_fp32']:.2f}x"
            )
        for name in ["clipcam", "clipcam_int8", "onnxruntime", "pytorch"]:
            if f"{name}_rounds_in_order_ms" in row:
                print(f"  rounds in order, {name}: " + " ".join(f"{v:.1f}" for v in row[f"{name}_rounds_in_order_ms"]))


if __name__ == "__main__":
    main()
