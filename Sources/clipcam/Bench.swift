import ArgumentParser
import CLIPModel
import CLinux
import Capture
import Classifier
import ClipCamKit
import Foundation
import Glibc
import SafeFiles
import Synchronization

struct Bench: ParsableCommand, WholeNumberOptions {
    static let configuration = CommandConfiguration(
        abstract:
            "Measure clipcam: the encoders, the whole live pipeline and the start-up time to the first score.",
        discussion: """
            Times the image encoder (image_ms: preprocessing a 640×480 frame and encoding it; preprocess_ms and \
            image_encoder_ms: the two apart; stage_*_ms: the encoder's stages) and the text encoder, after \
            a warm-up, and reports medians. achieved_gflops is the model's nominal image FLOPs (image_gflop, a \
            whole transformers forward pass) over image_encoder_ms; clipcam skips the part of the last block \
            that does not reach the pooled token, so this is an effective rate. The same run measures this \
            machine's sgemm rate (OpenBLAS, 768³), so the achieved rate can be read as a fraction of it \
            (roofline_fraction; above 1 where clipcam's own kernels outrun OpenBLAS, as its 16-lane and \
            integer kernels do: a comparison, not a ceiling). With \
            --shape, a random model of that shape is written to a temporary folder first (scores are \
            meaningless, timings are real).

            The pipeline figure runs the live pipeline of `clipcam run`: a synthetic 640×480 source at \
            --pipeline-fps, the encoder's queue (1 frame), the encoder and the window with its overlay, drawn \
            through SDL's offscreen driver. Every frame is encoded (change-aware reuse is off). After \
            \(Bench.pipelineWarmup) scored frames of warm-up it times --pipeline-frames scored frames and \
            reports scored frames/s, ms per scored frame, the encoder thread's median ms per frame, and the \
            frames captured, scored and dropped meanwhile.

            The start-up figure, startup_to_first_score_s, is the time from spawning a fresh \
            `clipcam run --source synthetic --headless --frames 1 --jsonl -` process (same model and threads) to \
            its first JSON line: process start, model load, prompt embedding, capture, preprocessing, encoding \
            and scoring. The model files are then in the page cache (this run has read them).
            """
    )

    /// Scored frames of the pipeline run that are not timed.
    static let pipelineWarmup = 2
    static let prompt = "a photo of a coffee cup"
    /// Frames whose reduced-precision and fp32 embeddings are compared.
    static let checkFrames = 8

    @Option(help: ArgumentHelp("The model folder (default: as for the other commands).", valueName: "dir"))
    var model: String?
    @Option(help: "Benchmark a random model of this shape instead: vit-b-32, vit-b-16 or tiny.")
    var shape: RandomModel.Shape?
    @Option(
        parsing: .unconditional,
        help:
            "Threads each encoding is shared among, and OpenBLAS's for the sgemm roofline (1–\(Bench.threadsRange.upperBound); default: every core, here \(CLIPModel.defaultThreads))."
    )
    var threads = CLIPModel.defaultThreads
    @Option(
        parsing: .unconditional,
        help: "Timed runs of each encoder (1–\(Bench.runsRange.upperBound); the median is reported).")
    var runs = 20
    @Option(
        parsing: .unconditional,
        help:
            "Scored frames timed through the live pipeline, after the warm-up (0–\(Bench.pipelineFramesRange.upperBound)); 0 skips the pipeline figure."
    )
    var pipelineFrames = 20
    @Option(parsing: .unconditional, help: "Frame rate of the pipeline's synthetic source (0.1–1000).")
    var pipelineFps = 30.0
    @Option(
        parsing: .unconditional,
        help:
            "Fresh processes timed to their first score (0–\(Bench.startupRunsRange.upperBound); the median is reported); 0 skips the start-up figure."
    )
    var startupRuns = 1
    @Option(
        help: ArgumentHelp(
            "The image encoder's arithmetic: fp32, int16 or int8 (see `clipcam run --help`).",
            discussion: "With int16 or int8, an fp32 copy of the model is also loaded and timed in the same run, "
                + "the two precisions taking turns encoding by encoding (fp32_image_encoder_ms; speedup_over_fp32, "
                + "the median of the turns' ratios), and the two precisions' embeddings of \(Bench.checkFrames) "
                + "varied frames are compared (min_cosine_to_fp32). integer_kernel names the integer "
                + "instructions used: avx512-vnni where the CPU has AVX-512 VNNI, else avx2 (integer_kernel_reason "
                + "says why); the environment "
                + "variable CLIPCAM_INT8_KERNEL=avx2 times the AVX2 kernel on a VNNI CPU."))
    var precision: Precision = .fp32
    @Flag(
        help: ArgumentHelp(
            "Also time every fp32 kernel this CPU runs, taking turns.",
            discussion: "One fp32 model per kernel is loaded and the image encoder (at --threads) runs on each in "
                + "turn, encoding by encoding, --runs times: fp32_kernels_ms (each kernel's median) and "
                + "fp32_kernels_over_chosen (the median of the turns' ratios to the kernel in use, fp32_kernel: the "
                + "one chosen for this CPU, or forced). "
                + "CLIPCAM_KERNEL=<name> forces the kernel of every other figure."))
    var compareKernels = false
    @Flag(help: "Print JSON.") var json = false

    static let threadsRange = ModelOptions.threadRange
    static let runsRange = 1...10_000
    static let pipelineFramesRange = 0...10_000
    static let startupRunsRange = 0...100
    static let wholeNumberOptions = [
        "--threads": WholeNumberBound(range: threadsRange, unit: "threads"),
        "--runs": WholeNumberBound(range: runsRange, unit: "timed runs"),
        "--pipeline-frames": WholeNumberBound(range: pipelineFramesRange, unit: "scored frames"),
        "--startup-runs": WholeNumberBound(range: startupRunsRange, unit: "processes"),
    ]
    /// Seconds a start-up measurement's `clipcam run` may take to print its first line.
    static let startupTimeLimit = 300.0

    func validate() throws {
        try checkNotEmpty([("--model", model)])
        try check(threads, option: "--threads", in: Bench.wholeNumberOptions)
        try check(runs, option: "--runs", in: Bench.wholeNumberOptions)
        try check(pipelineFrames, option: "--pipeline-frames", in: Bench.wholeNumberOptions)
        try check(pipelineFps, in: FrameLimits.fps, option: "--pipeline-fps", unit: "frames per second")
        try check(startupRuns, option: "--startup-runs", in: Bench.wholeNumberOptions)
        if model != nil && shape != nil { throw ValidationError("give --model or --shape, not both") }
    }

    func run() throws {
        // A random model goes into a folder of this run's own, removed at the end and on Ctrl-C or SIGTERM (a
        // ViT-B/32 is 600 MB), its staging folder included.
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-bench-\(getpid())")
        // Those of earlier runs killed outright (SIGKILL, a power cut), which could not remove their own.
        StagingFolder.removeAbandoned(in: temporary.deletingLastPathComponent(), prefix: "clipcam-bench-")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let watcher = InterruptWatcher { signal in
            try? FileManager.default.removeItem(at: temporary)
            _exit(128 + signal)
        }
        defer { watcher.cancel() }
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        let directory: URL
        if let shape {
            let dir = temporary.appendingPathComponent("random-\(shape.rawValue)")
            printError("writing a random \(shape.rawValue) model to \(dir.path)")
            try RandomModel.write(shape: shape, seed: 1, to: dir, vocabulary: ModelLocation.vocabularyDirectory)
            directory = dir
        } else {
            directory =
                try model.map { URL(fileURLWithPath: try userPath($0).openableName(role: "model folder")) }
                ?? ModelLocation.defaultDirectory
        }
        BLAS.threads = threads

        let loadStart = Date()
        let engine = try ClipEngine(directory: directory, threads: threads, precision: precision)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        if engine.isRandom && shape == nil { printError("warning: \(ClipEngine.randomWarning)") }
        if precision == .int8, let note = engine.model.integerKernel.int8Warning { printError("warning: \(note)") }

        let frame = Frame(
            index: 0, timestamp: 0, width: 640, height: 480,
            bgr: (0..<(640 * 480 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let imageMs = median(runs: runs) { _ = engine.imageEmbedding(frame) }
        let preprocessMs = median(runs: runs) { engine.preprocess(frame) }
        let encoderMs = median(runs: runs) { _ = engine.encodePreprocessed() }
        var stageSeconds: [EncoderStage: [Double]] = [:]
        for _ in 0..<runs {
            for (stage, seconds) in engine.encodePreprocessedTimed() {
                stageSeconds[stage, default: []].append(seconds)
            }
        }
        let stageMs = EncoderStage.allCases.map { stage in (stage, Bench.median(stageSeconds[stage] ?? [0]) * 1000) }
        let shortMs = median(runs: runs) { _ = engine.textEmbedding(Bench.prompt) }
        let longText = String(repeating: "a photo of a busy street full of cars and people ", count: 12)
        let longMs = median(runs: runs) { _ = engine.textEmbedding(longText) }

        var reducedFields: [(String, String)] = [
            ("integer_kernel", "null"), ("integer_kernel_reason", "null"), ("fp32_image_encoder_ms", "null"),
            ("speedup_over_fp32", "null"),
            ("min_cosine_to_fp32", "null"),
        ]
        if precision != .fp32 {
            let reference = try ClipEngine(directory: directory, threads: threads, precision: .fp32)
            reference.preprocess(frame)
            // The two precisions take turns, one encoding each, so that the machine's drift falls on both alike;
            // the speed-up is the median of the turns' ratios.
            var turns: [(fp32: Double, reduced: Double)] = []
            _ = reference.encodePreprocessed()
            _ = engine.encodePreprocessed()
            for _ in 0..<runs {
                let fp32 = milliseconds { _ = reference.encodePreprocessed() }
                turns.append((fp32, milliseconds { _ = engine.encodePreprocessed() }))
            }
            let referenceMs = Bench.median(turns.map(\.fp32))
            let speedup = Bench.median(turns.map { $0.fp32 / $0.reduced })
            var cosines: [Float] = []
            for seed in 0..<Bench.checkFrames {
                let check = Bench.variedFrame(seed: seed)
                cosines.append(
                    Scoring.cosine(
                        Scoring.l2Normalized(engine.imageEmbedding(check)),
                        Scoring.l2Normalized(reference.imageEmbedding(check))))
            }
            reducedFields = [
                ("integer_kernel", "\"\(engine.model.integerKernel.rawValue)\""),
                ("integer_kernel_reason", "\"\(QuantizedKernel.reason(for: engine.model.integerKernel))\""),
                ("fp32_image_encoder_ms", format(referenceMs, 2)),
                ("speedup_over_fp32", format(speedup, 2)),
                ("min_cosine_to_fp32", format(Double(cosines.min()!), 6)),
            ]
        }

        let flops = engine.model.configuration.imageFLOPs
        let achieved = flops / (encoderMs / 1000) / 1e9
        let roofline = BLAS.sgemmGFLOPS()
        var fields: [(String, String)] = [
            ("model", JSONText.string(shownModelName(directory))), ("random", "\(engine.isRandom)"),
            ("threads", "\(threads)"), ("runs", "\(runs)"),
            ("load_s", format(loadSeconds, 3)),
            ("image_ms", format(imageMs, 2)), ("images_per_s", format(1000 / imageMs, 2)),
            ("preprocess_ms", format(preprocessMs, 2)), ("image_encoder_ms", format(encoderMs, 2)),
        ]
        fields += stageMs.map { ("stage_\($0.0.rawValue)_ms", format($0.1, 2)) }
        fields += [
            ("image_gflop", format(flops / 1e9, 2)), ("achieved_gflops", format(achieved, 1)),
            ("sgemm_gflops", format(roofline, 1)), ("roofline_fraction", format(achieved / roofline, 3)),
            ("text_short_ms", format(shortMs, 2)), ("text_77_tokens_ms", format(longMs, 2)),
        ]
        fields += [("precision", "\"\(precision.rawValue)\"")] + reducedFields
        fields += Bench.kernelFields(engine.model.floatKernel)
        fields +=
            try compareKernels
            ? kernelTurns(directory: directory, inUse: engine.model.floatKernel.kernel)
            : [
                ("fp32_kernels_ms", "null"), ("fp32_kernels_over_chosen", "null"),
            ]

        // The engine moves to the pipeline's encoder thread; nothing above uses it afterwards.
        let pipeline = pipelineFrames > 0 ? try measurePipeline(engine: engine) : nil
        fields += [
            ("pipeline_source_fps", pipeline.map { _ in format(pipelineFps, 1) } ?? "null"),
            ("pipeline_scored_per_s", pipeline.map { format($0.scoredPerSecond, 2) } ?? "null"),
            ("pipeline_ms_per_scored_frame", pipeline.map { format($0.msPerScoredFrame, 2) } ?? "null"),
            ("pipeline_encode_ms", pipeline.map { format($0.encodeMs, 2) } ?? "null"),
            ("pipeline_frames_captured", pipeline.map { "\($0.captured)" } ?? "null"),
            ("pipeline_frames_scored", pipeline.map { "\($0.scored)" } ?? "null"),
            ("pipeline_frames_dropped", pipeline.map { "\($0.dropped)" } ?? "null"),
        ]

        let startup = startupRuns > 0 ? try measureStartup(directory: directory) : nil
        fields += [
            ("startup_runs", "\(startupRuns)"),
            ("startup_to_first_score_s", startup.map { format($0, 3) } ?? "null"),
        ]

        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (key, value) in fields { print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) \(value)") }
        }
    }

    /// The model folder's name as output shows it: --model's last component as typed (`\xHH` for bytes that are
    /// not UTF-8, not the /proc/self/fd name clipcam opens it by), else the folder's own name.
    func shownModelName(_ directory: URL) -> String {
        guard let model, shape == nil else { return directory.lastPathComponent }
        return SystemPath(bytes: userPath(model).lastComponent).description
    }

    /// What the timed part of the pipeline run did.
    struct PipelineFigures {
        var scoredPerSecond: Double
        var msPerScoredFrame: Double
        /// Median seconds the encoder thread spent per frame (preprocessing, encoding, scoring), in ms.
        var encodeMs: Double
        var captured: Int
        var scored: Int
        var dropped: Int
    }

    /// Runs the live pipeline with an offscreen window until `pipelineWarmup + pipelineFrames` frames have been
    /// scored, and measures the last `pipelineFrames` of them.
    func measurePipeline(engine: sending ClipEngine) throws -> PipelineFigures {
        // The window is real but drawn in memory: no display is needed and none is shown.
        setenv("SDL_VIDEODRIVER", "offscreen", 1)
        let settings = PipelineSettings(
            source: "synthetic:640x480@\(pipelineFps)", queueCapacity: 1, prompts: [Bench.prompt],
            reuseThreshold: nil, headless: false)
        let pipeline = Pipeline(settings: settings, log: { printError("clipcam: " + $0) })
        let target = Bench.pipelineWarmup + pipelineFrames
        let probe = PipelineProbe(target: target) { pipeline.stop() }
        let summary = try pipeline.run(engine: engine, sinks: [probe])
        let records = probe.records
        guard records.count >= target else {
            throw CLIError(
                "the pipeline ended after \(records.count) scored frames, before the \(target) needed "
                    + "(\(summary.captured) frames captured from \(summary.source))")
        }
        let first = records[Bench.pipelineWarmup - 1]
        let timed = records[Bench.pipelineWarmup..<target]
        let last = timed.last!
        let seconds = last.time - first.time
        let encodeSeconds = Bench.median(timed.map(\.encodeSeconds))
        // Frames are captured with consecutive indices and scored in order: those captured after the warm-up's
        // last scored frame up to the last timed one were either scored or dropped unseen from the queue.
        let captured = last.frameIndex - first.frameIndex
        return PipelineFigures(
            scoredPerSecond: Double(timed.count) / seconds, msPerScoredFrame: seconds * 1000 / Double(timed.count),
            encodeMs: encodeSeconds * 1000, captured: captured, scored: timed.count, dropped: captured - timed.count)
    }

    /// Median seconds from spawning `clipcam run` on a synthetic frame to its first JSON line, over `startupRuns`
    /// fresh processes.
    func measureStartup(directory: URL) throws -> Double {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let arguments = [
            "run", "--model", directory.path, "--prompt", Bench.prompt, "--source", "synthetic", "--headless",
            "--frames", "1", "--jsonl", "-", "--threads", "\(threads)", "--precision", precision.rawValue,
        ]
        let environment = ProcessInfo.processInfo.environment
        var times: [Double] = []
        for _ in 0..<startupRuns {
            times.append(
                try timeToFirstLine(executable: executable, arguments: arguments, environment: environment))
        }
        return Bench.median(times)
    }

    /// Seconds from starting the program to the first complete line on its standard output; the program must
    /// then exit with status 0 and the line must be a JSON object.
    func timeToFirstLine(executable: URL, arguments: [String], environment: [String: String]) throws -> Double {
        let command = ([executable.path] + arguments).joined(separator: " ")
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent(
            "clipcam-bench-\(getpid())/startup.err")
        defer { try? FileManager.default.removeItem(at: errors) }
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let errorHandle = try FileHandle(forWritingTo: errors)
        defer { try? errorHandle.close() }
        var ends: [Int32] = [-1, -1]
        guard clinux_pipe_cloexec(&ends) == 0 else {
            throw CLIError("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        let start = MonotonicClock.now()
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: executable.path, arguments: arguments, stdout: ends[1], stderr: errorHandle.fileDescriptor)
        } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        close(ends[1])
        defer { close(ends[0]) }
        // Read to the end of its output, but never longer than the time limit.
        var received = Data()
        var seconds: Double?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let left = start + Bench.startupTimeLimit - MonotonicClock.now()
            var entry = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            guard left > 0, Glibc.poll(&entry, 1, Int32((left * 1000).rounded(.up))) >= 0 || errno == EINTR else {
                child.kill()
                throw CLIError(
                    "the start-up measurement `\(command)` took more than \(Int(Bench.startupTimeLimit)) s and was stopped"
                )
            }
            guard entry.revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
            if seconds == nil && received.contains(0x0A) { seconds = MonotonicClock.now() - start }
        }
        let termination = child.wait(seconds: 10) ?? child.kill()
        let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        guard termination.succeeded, let seconds else {
            throw CLIError(
                "the start-up measurement `\(command)` failed (\(termination)): "
                    + stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let line = received.prefix { $0 != 0x0A }
        guard (try? JSONSerialization.jsonObject(with: line)) is [String: Any] else {
            throw CLIError(
                "the start-up measurement `\(command)` printed \"\(String(decoding: line, as: UTF8.self))\", "
                    + "not a JSON line")
        }
        return seconds
    }

    /// The CPU (as /proc/cpuinfo names it), the fp32 kernel in use, why it was chosen, and every fp32 kernel this
    /// CPU can run.
    static func kernelFields(_ choice: FloatKernelChoice) -> [(String, String)] {
        let cpu = CPUInfo.current
        return [
            ("cpu_vendor", jsonString(cpu.vendor)), ("cpu_family", cpu.family.map(String.init) ?? "null"),
            ("cpu_model", cpu.model.map(String.init) ?? "null"), ("cpu_model_name", jsonString(cpu.modelName)),
            ("fp32_kernel", jsonString(choice.kernel.rawValue)), ("kernel_reason", jsonString(choice.reason)),
            (
                "fp32_kernels_available",
                "[" + FloatKernel.available().map { jsonString($0.rawValue) }.joined(separator: ", ") + "]"
            ),
        ]
    }

    /// Every fp32 kernel this CPU runs, timed on the image encoder taking turns encoding by encoding: each kernel's
    /// median ms, and the median of the turns' ratios to `inUse`, the kernel of every other figure (chosen for this
    /// CPU, or forced by CLIPCAM_KERNEL).
    func kernelTurns(directory: URL, inUse: FloatKernel) throws -> [(String, String)] {
        let kernels = FloatKernel.available()
        let models = try kernels.map {
            try CLIPModel(directory: directory, threads: threads, floatKernel: .forced($0))
        }
        let size = models[0].imageSize
        let pixels = (0..<(3 * size * size)).map { Float(($0 * 7919) % 255) / 128 - 1 }
        var embedding = [Float](repeating: 0, count: models[0].embeddingSize)
        var times = [[Double]](repeating: [], count: kernels.count)
        pixels.withUnsafeBufferPointer { input in
            embedding.withUnsafeMutableBufferPointer { output in
                for model in models { model.encodeImage(pixels: input.baseAddress!, into: output.baseAddress!) }
                for _ in 0..<runs {
                    for (index, model) in models.enumerated() {
                        times[index].append(
                            milliseconds { model.encodeImage(pixels: input.baseAddress!, into: output.baseAddress!) })
                    }
                }
            }
        }
        let chosen = kernels.firstIndex(of: inUse) ?? 0
        let medians = kernels.indices.map { "\"\(kernels[$0].rawValue)\": \(format(Bench.median(times[$0]), 2))" }
        let ratios = kernels.indices.map { index in
            let ratio = Bench.median(zip(times[index], times[chosen]).map { $0 / $1 })
            return "\"\(kernels[index].rawValue)\": \(format(ratio, 3))"
        }
        return [
            ("fp32_kernels_ms", "{" + medians.joined(separator: ", ") + "}"),
            ("fp32_kernels_over_chosen", "{" + ratios.joined(separator: ", ") + "}"),
        ]
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    /// A 640×480 frame of smooth colour gradients, blocks and noise that differ with `seed`.
    static func variedFrame(seed: Int) -> Frame {
        var bgr = [UInt8](repeating: 0, count: 640 * 480 * 3)
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        for y in 0..<480 {
            for x in 0..<640 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let noise = Int(state >> 59)
                let block = ((x / (40 + 8 * seed)) + (y / (30 + 5 * seed))) % 2 * 60
                let i = (y * 640 + x) * 3
                bgr[i] = UInt8(truncatingIfNeeded: (x * (seed + 1) / 5 + block + noise) % 256)
                bgr[i + 1] = UInt8(truncatingIfNeeded: (y * (seed + 2) / 4 + noise) % 256)
                bgr[i + 2] = UInt8(truncatingIfNeeded: ((x + y) * (7 - seed % 7) / 9 + block) % 256)
            }
        }
        return Frame(index: seed, timestamp: 0, width: 640, height: 480, bgr: bgr)
    }

    /// The middle value (the upper one of the two middle values of an even count). `values` must not be empty.
    /// The median; of an even count, the mean of the two middle values.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Median milliseconds of `runs` calls after one warm-up call.
    func median(runs: Int, _ body: () -> Void) -> Double {
        body()
        return Bench.median((0..<runs).map { _ in milliseconds(body) })
    }

    /// The milliseconds one call takes.
    func milliseconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    func format(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
}

/// A sink that notes when each scored frame of the pipeline run arrives and calls `onTarget` (which stops the
/// run) once `target` frames have been scored.
final class PipelineProbe: ResultSink, Sendable {
    struct Record {
        /// Monotonic seconds when the result reached the sink.
        var time: Double
        var frameIndex: Int
        var encodeSeconds: Double
    }

    private let target: Int
    private let onTarget: @Sendable () -> Void
    private let state = Mutex<[Record]>([])

    init(target: Int, onTarget: @escaping @Sendable () -> Void) {
        self.target = target
        self.onTarget = onTarget
    }

    func write(_ result: FrameResult) throws {
        let record = Record(
            time: MonotonicClock.now(), frameIndex: result.frameIndex, encodeSeconds: result.encodeSeconds)
        let count = state.withLock { records in
            records.append(record)
            return records.count
        }
        if count == target { onTarget() }
    }

    func finish() throws {}

    var records: [Record] { state.withLock { $0 } }
}
