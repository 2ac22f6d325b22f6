"""Times clipcam's image encoder against ONNX Runtime (fp32 and dynamic int8) and PyTorch, every engine in its own
process, the engines taking turns round after round.

Run through scripts/compare-reference, which documents the options. Steps: build clipcam (release); take --model
DIR or write a random model of --shape; export the model's vision tower (transformers'
CLIPVisionModelWithProjection, image_embeds) to ONNX once in a temporary folder and check that ONNX Runtime gives
PyTorch's output; quantise that graph with onnxruntime.quantization.quantize_dynamic (QInt8 weights, the scheme
ONNX Runtime's documentation gives for CPUs) and measure its cosine to the fp32 graph's output; then, for each
thread count and round, start each engine in a fresh process — this script again for ONNX Runtime and PyTorch,
`clipcam bench --json` for clipcam at each precision — and take the median of its timed runs. clipcam's figure is
its encoder-only time, `image_encoder_ms`. Each ratio is computed within a round (engines timed seconds apart
share the machine's speed of that moment), and the median of the rounds' ratios is the figure to quote.
"""

import argparse
import importlib
import json
import logging
import os
import platform
import shutil
import statistics
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
# Every engine, in the order of a round: (name, label).
ENGINES = [
    ("onnxruntime", "ONNX Runtime fp32"),
    ("onnxruntime_int8", "ONNX Runtime int8"),
    ("pytorch", "PyTorch fp32"),
    ("clipcam_fp32", "clipcam fp32"),
    ("clipcam_int16", "clipcam int16"),
    ("clipcam_int8", "clipcam int8"),
]
REFERENCES = ["onnxruntime", "onnxruntime_int8", "pytorch"]
LIMITS = {"runs": (1, 1000), "rounds": (1, 100), "threads": (1, 256)}


def log(message):
    print(f"compare-reference: {message}", file=sys.stderr, flush=True)


def fail(message):
    log(f"error: {message}")
    sys.exit(1)


def parse_arguments():
    parser = argparse.ArgumentParser(
        prog="scripts/compare-reference",
        description="Time clipcam's image encoder against ONNX Runtime and PyTorch, every engine in its own "
        "process, taking turns (lower ratios are better for clipcam).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="DIR", help="a CLIP model folder (Hugging Face layout)")
    source.add_argument(
        "--shape",
        default="vit-b-32",
        choices=["vit-b-32", "vit-b-16", "tiny"],
        help="without --model: write a random model of this shape; default vit-b-32",
    )
    parser.add_argument("--threads", default="1 2", help='thread counts to compare, e.g. "1 2" (the default)')
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each engine in each round (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds in which the engines take turns (default 5)"
    )
    parser.add_argument(
        "--engines",
        default=",".join(name for name, _ in ENGINES),
        help="the engines to run, comma-separated, from " + ", ".join(name for name, _ in ENGINES) + " (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = parser.parse_args()
    try:
        args.thread_counts = [int(t) for t in args.threads.replace(",", " ").split()]
    except ValueError:
        parser.error(f'--threads takes whole numbers separated by spaces, e.g. "1 2"; got {args.threads!r}')
    low, high = LIMITS["threads"]
    if not args.thread_counts or not all(low <= t <= high for t in args.thread_counts):
        parser.error(f"--threads needs one or more counts between {low} and {high}; got {args.threads!r}")
    for name in ["runs", "rounds"]:
        low, high = LIMITS[name]
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name} must be between {low} and {high}, not {getattr(args, name)}")
    known = [name for name, _ in ENGINES]
    args.engine_list = [e.strip().replace("-", "_") for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in args.engine_list if e not in known]
    if unknown or not args.engine_list:
        parser.error(f"--engines takes names from {', '.join(known)}; got {args.engines!r}")
    args.engine_list = [e for e in known if e in args.engine_list]
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
                key = line.split(":", 1)[0].strip()
                if key == "model name" and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                elif key in ("vendor_id", "cpu family", "model"):
                    identity.setdefault(key, line.split(":", 1)[1].strip())
                elif key == "flags":
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    cpu = cpu or platform.processor() or "unknown"
    # The vector extensions that decide which kernels the engines can use.
    extensions = [
        f for f in ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16"] if f in flags
    ]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cpu_vendor": identity.get("vendor_id"),
        "cpu_family": int(identity["cpu family"]) if identity.get("cpu family", "").isdigit() else None,
        "cpu_model": int(identity["model"]) if identity.get("model", "").isdigit() else None,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "vector_extensions": extensions,
        "system": platform.platform(),
        "load_average_1min_at_start": load,
    }


def versions():
    import onnx
    import onnxruntime
    import torch
    import transformers

    openblas = None
    if shutil.which("pkg-config"):
        found = subprocess.run(["pkg-config", "--modversion", "openblas"], capture_output=True, text=True)
        openblas = found.stdout.strip() or None
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return {
        "clipcam": commit.stdout.strip() or None,
        "openblas": openblas,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
    }


def median(values):
    """The median; of an even count, the mean of the two middle values."""
    return statistics.median(values) if values else None


def median_ms(call, runs):
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times) * 1000


# --- the timed engines, each run in a process of its own -------------------------------------------------------


def pixels_for(size):
    import numpy as np

    return np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)


def time_onnxruntime(path, size, threads, runs):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"pixel_values": pixels_for(size)}
    return median_ms(lambda: session.run(None, feed), runs)


def time_pytorch(model, size, threads, runs):
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    vision = transformers.CLIPVisionModelWithProjection.from_pretrained(model, dtype=torch.float32).eval()
    pixels = torch.from_numpy(pixels_for(size))
    with torch.inference_mode():
        return median_ms(lambda: vision(pixel_values=pixels).image_embeds, runs)


def child_main(argv):
    """`compare_reference.py --engine NAME TARGET SIZE THREADS RUNS`: prints {"ms": median} as JSON."""
    name, target, size, threads, runs = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    if name == "pytorch":
        ms = time_pytorch(target, size, threads, runs)
    else:
        ms = time_onnxruntime(target, size, threads, runs)
    print(json.dumps({"ms": ms}))


def python_engine(name, target, size, threads, runs):
    command = [sys.executable, os.path.abspath(__file__), "--engine", name, target, str(size), str(threads), str(runs)]
    result = run(command, capture_output=True)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])["ms"], {}
    except (json.JSONDecodeError, IndexError, KeyError):
        fail(f"`{' '.join(command)}` printed no timing: {result.stdout.strip()[:200]!r}")


def clipcam_engine(model, precision, threads, runs):
    command = [CLIPCAM, "bench", "--model", model, "--threads", str(threads), "--runs", str(runs), "--json"]
    command += ["--pipeline-frames", "0", "--startup-runs", "0", "--precision", precision]
    result = run(command, capture_output=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        fail(f"`{' '.join(command)}` printed no JSON object: {result.stdout.strip()[:200]!r}")
    if not isinstance(report.get(FIELD), (int, float)):
        fail(f"`{' '.join(command)}` reported no {FIELD}: {result.stdout.strip()[:200]!r}")
    return float(report[FIELD]), report


# --- preparation: export, checks, quantisation ------------------------------------------------------------------


def prepare(model, scratch, need_int8):
    """Exports the vision tower to ONNX (and its dynamic int8 form); returns paths, image size and the checks."""
    import numpy as np
    import onnxruntime as ort
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    vision = transformers.CLIPVisionModelWithProjection.from_pretrained(model, dtype=torch.float32).eval()
    size = vision.config.image_size

    class ImageEmbeds(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).image_embeds

    wrapper = ImageEmbeds(vision).eval()
    pixels = torch.from_numpy(pixels_for(size))
    fp32_path = os.path.join(scratch, "vision.onnx")
    log(f"exporting the vision tower to ONNX (opset 17, {fp32_path})")
    with torch.inference_mode():
        reference = wrapper(pixels).numpy()[0]
    with warnings.catch_warnings():
        # The legacy (TorchScript) exporter's deprecation and tracer notes; the output check below is what counts.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (pixels,),
            fp32_path,
            input_names=["pixel_values"],
            output_names=["image_embeds"],
            opset_version=17,
            dynamo=False,
        )
    feed = {"pixel_values": pixels.numpy()}
    fp32_out = ort.InferenceSession(fp32_path, providers=["CPUExecutionProvider"]).run(None, feed)[0][0]
    difference = float(np.abs(fp32_out - reference).max())
    log(f"ONNX Runtime vs PyTorch on the same input: max abs difference {difference:.3g}")
    if not difference <= 1e-3:
        fail(
            f"ONNX Runtime's output differs from PyTorch's by {difference:.3g} (more than 1e-3); "
            "the ONNX export is wrong, so its timings would not be comparable"
        )
    checks = {"onnx_max_abs_difference": difference}
    int8_path = None
    if need_int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8_path = os.path.join(scratch, "vision-int8.onnx")
        log("quantising it with onnxruntime.quantization.quantize_dynamic (QInt8 weights)")
        # quantize_dynamic logs a suggestion to pre-process the graph (shape inference) through the root logger;
        # the graph is timed as that function leaves it, which is what ONNX Runtime's users get.
        logging.getLogger().setLevel(logging.ERROR)
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
        int8_out = ort.InferenceSession(int8_path, providers=["CPUExecutionProvider"]).run(None, feed)[0][0]
        cosine = float(np.dot(int8_out, fp32_out) / np.linalg.norm(int8_out) / np.linalg.norm(fp32_out))
        checks["onnxruntime_int8_cosine_to_fp32"] = cosine
        log(f"ONNX Runtime int8's cosine to its fp32 output: {cosine:.6f}")
    return fp32_path, int8_path, size, checks


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--engine":
        child_main(sys.argv[2:])
        return
    args = parse_arguments()
    check_modules()
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"warning: the load average is {load:.2f}; other processes compete for the cores and slow every engine")
    if args.model:
        model = os.path.abspath(os.path.expanduser(args.model))
        if not os.path.isfile(os.path.join(model, "config.json")):
            fail(f"{model} has no config.json; give a CLIP model folder (Hugging Face layout) to --model")
    log("building clipcam (swift build -c release --product clipcam)")
    run(["swift", "build", "-c", "release", "--product", "clipcam"])

    with tempfile.TemporaryDirectory(prefix="clipcam-compare-") as scratch:
        if not args.model:
            model = os.path.join(scratch, f"random-{args.shape}")
            log(f"writing a random {args.shape} model to {model}")
            run([CLIPCAM, "model", "random", "--shape", args.shape, "--seed", "1", "--out", model])
        fp32_path, int8_path, size, checks = prepare(model, scratch, "onnxruntime_int8" in args.engine_list)

        results = []
        for threads in args.thread_counts:
            samples = {name: [] for name in args.engine_list}
            reports = {}
            for round_index in range(args.rounds):
                log(f"{threads} thread(s), round {round_index + 1} of {args.rounds}")
                # Each round starts with the next engine, so that no engine always runs first after a pause.
                order = args.engine_list[round_index % len(args.engine_list) :]
                order += args.engine_list[: round_index % len(args.engine_list)]
                for name in order:
                    if name == "onnxruntime":
                        ms, _ = python_engine(name, fp32_path, size, threads, args.runs)
                    elif name == "onnxruntime_int8":
                        ms, _ = python_engine(name, int8_path, size, threads, args.runs)
                    elif name == "pytorch":
                        ms, _ = python_engine(name, model, size, threads, args.runs)
                    else:
                        ms, report = clipcam_engine(model, name.split("_")[1], threads, args.runs)
                        reports.setdefault(name, []).append(report)
                    samples[name].append(ms)
            results.append(summarise(threads, samples, reports))

    report = {
        "model": os.path.basename(model.rstrip("/")),
        "random": args.model is None,
        "image_size": size,
        "runs_per_round": args.runs,
        "warmups_per_round": WARMUP,
        "rounds": args.rounds,
        "engines": args.engine_list,
        "clipcam_field": FIELD,
        **checks,
        "machine": machine(load),
        "versions": versions(),
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_tables(report)


def summarise(threads, samples, reports):
    row = {"threads": threads, "ms": {}, "rounds_ms": {}, "ratios": {}}
    for name, values in samples.items():
        row["rounds_ms"][name] = [round(v, 3) for v in values]
        row["ms"][name] = round(median(values), 3)
    # Every clipcam precision against every reference: each round's own ratio, and their median.
    for name in samples:
        if not name.startswith("clipcam"):
            continue
        for reference in REFERENCES:
            if reference in samples:
                per_round = [a / b for a, b in zip(samples[name], samples[reference])]
                row["ratios"][f"{name}_over_{reference}"] = {
                    "median": round(median(per_round), 4),
                    "rounds": [round(r, 4) for r in per_round],
                }
    fp32 = reports.get("clipcam_fp32") or next(iter(reports.values()), None)
    if fp32:
        first = fp32[0]
        row["clipcam_fp32_kernel"] = first.get("fp32_kernel")
        row["clipcam_fp32_kernel_reason"] = first.get("kernel_reason")
    for name in ["clipcam_int16", "clipcam_int8"]:
        if name in reports:
            found = reports[name]
            row[f"{name}_kernel"] = found[0].get("integer_kernel")
            row[f"{name}_kernel_reason"] = found[0].get("integer_kernel_reason")
            row[f"{name}_min_cosine_to_fp32"] = min(float(r["min_cosine_to_fp32"]) for r in found)
            # clipcam bench's own figure: this precision and fp32 taking turns encoding by encoding in one process.
            row[f"{name}_speedup_over_fp32"] = median([float(r["speedup_over_fp32"]) for r in found])
    return row


def print_tables(report):
    m = report["machine"]
    v = report["versions"]
    labels = dict(ENGINES)
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
        f"model: {report['model']} ({kind}), input 1x3x{report['image_size']}x{report['image_size']}; "
        f"{report['rounds']} rounds, the engines taking turns, each in its own process for "
        f"{report['runs_per_round']} timed runs after {WARMUP} warm-ups; ONNX vs PyTorch max abs difference "
        f"{report['onnx_max_abs_difference']:.3g}"
    )
    if "onnxruntime_int8_cosine_to_fp32" in report:
        print(f"ONNX Runtime int8 (quantize_dynamic, QInt8): cosine to its fp32 output "
              f"{report['onnxruntime_int8_cosine_to_fp32']:.6f}")
    print(f"clipcam time: {report['clipcam_field']} (encoder only)")
    for row in report["results"]:
        print()
        print(f"threads {row['threads']}  (image encoder, median ms of the rounds; rounds in order)")
        for name, ms in row["ms"].items():
            rounds = " ".join(f"{x:.2f}" for x in row["rounds_ms"][name])
            print(f"  {labels[name]:<18} {ms:>8.2f}   {rounds}")
        if row.get("clipcam_fp32_kernel"):
            print(f"  clipcam fp32 kernel: {row['clipcam_fp32_kernel']} ({row['clipcam_fp32_kernel_reason']})")
        for name in ["clipcam_int16", "clipcam_int8"]:
            if f"{name}_kernel" in row:
                print(
                    f"  {labels[name]}: {row[f'{name}_kernel']} kernel ({row[f'{name}_kernel_reason']}), "
                    f"min cosine to fp32 "
                    f"{row[f'{name}_min_cosine_to_fp32']:.6f}, {row[f'{name}_speedup_over_fp32']:.2f}x fp32 "
                    "taking turns in one process"
                )
        if row["ratios"]:
            print("  ratios (lower is better for clipcam): median of the rounds' own ratios; each round's")
            for key, ratio in row["ratios"].items():
                numerator, reference = key.split("_over_")
                rounds = " ".join(f"{x:.3f}" for x in ratio["rounds"])
                label = f"{labels[numerator]} / {labels[reference]}"
                print(f"    {label:<40} {ratio['median']:>6.3f}   {rounds}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # The temporary folder is already gone (its context manager ran); a child engine got the signal too.
        log("interrupted")
        sys.exit(130)
