#!/usr/bin/env python3
"""clipcam's reduced-precision image encoder against ONNX Runtime's dynamic int8, each engine in its own process.

    python3 scripts/ort_int8_compare.py MODEL_DIR [--threads "1 2"] [--rounds 5] [--runs 10]
        [--precision int8] [--json]

Exports the model's vision tower (transformers' CLIPVisionModelWithProjection, image_embeds) to ONNX once into
a cache folder beside the model's name in $TMPDIR, quantises it with onnxruntime.quantization.quantize_dynamic
(QInt8 weights, as the issue measured), checks the int8 graph's cosine to the fp32 graph's output, and then, for
each thread count and round, times ONNX Runtime int8 in a fresh Python process and `clipcam bench --json` (its
encoder-only image_encoder_ms) in its own, one after the other. Prints each round's pair and ratio, and the
medians. The time of one engine is the median of --runs timed encodings after 3 warm-ups.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPCAM = os.path.join(ROOT, ".build", "release", "clipcam")


def export(model, folder):
    import numpy as np
    import onnxruntime as ort
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = os.path.join(folder, "vision.onnx")
    int8 = os.path.join(folder, "vision-int8.onnx")
    if os.path.exists(int8):
        return fp32, int8
    os.makedirs(folder, exist_ok=True)
    transformers.logging.set_verbosity_error()
    vision = transformers.CLIPVisionModelWithProjection.from_pretrained(model, dtype=torch.float32).eval()
    size = vision.config.image_size

    class ImageEmbeds(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).image_embeds

    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ImageEmbeds(vision).eval(), (pixels,), fp32, input_names=["pixel_values"],
            output_names=["image_embeds"], opset_version=17, dynamo=False,
        )
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    feed = {"pixel_values": pixels.numpy()}
    a = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(None, feed)[0][0]
    b = ort.InferenceSession(int8, providers=["CPUExecutionProvider"]).run(None, feed)[0][0]
    cosine = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
    with open(os.path.join(folder, "cosine.json"), "w") as f:
        json.dump({"ort_int8_cosine_to_ort_fp32": cosine}, f)
    return fp32, int8


def time_session(path, threads, runs):
    """Runs in its own process: median ms of one ONNX Runtime session."""
    import time

    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    feed = {"pixel_values": np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"ms": times[len(times) // 2] * 1000}))


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--time-session":
        time_session(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--threads", default="1 2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = os.path.abspath(os.path.expanduser(args.model))
    folder = os.path.join(tempfile.gettempdir(), "clipcam-ort-" + os.path.basename(model.rstrip("/")))
    _, int8 = export(model, folder)
    with open(os.path.join(folder, "cosine.json")) as f:
        cosine = json.load(f)["ort_int8_cosine_to_ort_fp32"]
    with open("/proc/cpuinfo") as f:
        info = f.read()
    family = next(l.split(":")[1].strip() for l in info.splitlines() if l.startswith("cpu family"))
    cpu_model = next(l.split(":")[1].strip() for l in info.splitlines() if l.startswith("model\t"))
    report = {
        "model": os.path.basename(model), "cpu_family": int(family), "cpu_model": int(cpu_model),
        "load_average_at_start": os.getloadavg()[0], "ort_int8_cosine_to_ort_fp32": cosine,
        "precision": args.precision, "threads": {},
    }
    for threads in [int(t) for t in args.threads.split()]:
        rounds = []
        for index in range(args.rounds):
            ort_ms = json.loads(subprocess.run(
                [sys.executable, __file__, "--time-session", int8, str(threads), str(args.runs)],
                capture_output=True, text=True, check=True).stdout)["ms"]
            bench = json.loads(subprocess.run(
                [CLIPCAM, "bench", "--model", model, "--threads", str(threads), "--runs", str(args.runs), "--json",
                 "--pipeline-frames", "0", "--startup-runs", "0", "--precision", args.precision],
                capture_output=True, text=True, check=True).stdout)
            clipcam_ms = bench["image_encoder_ms"]
            rounds.append({"ort_int8_ms": ort_ms, "clipcam_ms": clipcam_ms, "ratio": clipcam_ms / ort_ms,
                           "load": os.getloadavg()[0], "min_cosine_to_fp32": bench.get("min_cosine_to_fp32")})
            print(f"threads {threads} round {index + 1}: ORT int8 {ort_ms:.2f} ms, clipcam {args.precision} "
                  f"{clipcam_ms:.2f} ms, ratio {clipcam_ms / ort_ms:.3f} (load {os.getloadavg()[0]:.2f})",
                  file=sys.stderr, flush=True)
        report["threads"][threads] = {
            "rounds": rounds,
            "ort_int8_ms": median([r["ort_int8_ms"] for r in rounds]),
            "clipcam_ms": median([r["clipcam_ms"] for r in rounds]),
            "median_round_ratio": median([r["ratio"] for r in rounds]),
        }
        t = report["threads"][threads]
        print(f"threads {threads}: ORT int8 {t['ort_int8_ms']:.2f} ms, clipcam {t['clipcam_ms']:.2f} ms, "
              f"median ratio {t['median_round_ratio']:.3f}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
