import ArgumentParser
import CLIPModel
import Capture
import ClipCamKit
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the CLIP encoders: ms per image and per prompt, achieved GFLOP/s and the sgemm roofline.",
        discussion: """
            Times the image encoder (preprocessing a 640×480 frame and encoding it) and the text encoder, after \
            a warm-up, and reports medians. The same run measures this machine's sgemm rate, so the encoder's \
            achieved rate can be read as a fraction of it. With --shape, a random model of that shape is written \
            to a temporary folder first (scores are meaningless, timings are real).
            """
    )

    @Option(help: ArgumentHelp("The model folder (default: as for the other commands).", valueName: "dir"))
    var model: String?
    @Option(help: "Benchmark a random model of this shape instead: vit-b-32, vit-b-16 or tiny.")
    var shape: RandomModel.Shape?
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "Timed runs of each encoder (the median is reported).") var runs = 20
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if model != nil && shape != nil { throw ValidationError("give --model or --shape, not both") }
    }

    func run() throws {
        var temporary: URL?
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        let directory: URL
        if let shape {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-bench-\(getpid())")
            printError("writing a random \(shape.rawValue) model to \(dir.path)")
            try RandomModel.write(shape: shape, seed: 1, to: dir, vocabulary: ModelLocation.vocabularyDirectory)
            temporary = dir
            directory = dir
        } else {
            directory =
                model.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) }
                ?? ModelLocation.defaultDirectory
        }
        BLAS.threads = threads

        let loadStart = Date()
        let engine = try ClipEngine(directory: directory, threads: threads)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        if engine.isRandom && shape == nil { printError("warning: \(ClipEngine.randomWarning)") }

        let frame = Frame(
            index: 0, timestamp: 0, width: 640, height: 480,
            bgr: (0..<(640 * 480 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let imageMs = median(runs: runs) { _ = engine.imageEmbedding(frame) }
        let shortMs = median(runs: runs) { _ = engine.textEmbedding("a photo of a coffee cup") }
        let longText = String(repeating: "a photo of a busy street full of cars and people ", count: 12)
        let longMs = median(runs: runs) { _ = engine.textEmbedding(longText) }

        let flops = engine.model.configuration.imageFLOPs
        let achieved = flops / (imageMs / 1000) / 1e9
        let roofline = BLAS.sgemmGFLOPS()
        let fields: [(String, String)] = [
            ("model", "\"\(directory.lastPathComponent)\""), ("random", "\(engine.isRandom)"),
            ("threads", "\(threads)"), ("runs", "\(runs)"),
            ("load_s", format(loadSeconds, 3)),
            ("image_ms", format(imageMs, 2)), ("images_per_s", format(1000 / imageMs, 2)),
            ("image_gflop", format(flops / 1e9, 2)), ("achieved_gflops", format(achieved, 1)),
            ("sgemm_gflops", format(roofline, 1)), ("roofline_fraction", format(achieved / roofline, 3)),
            ("text_short_ms", format(shortMs, 2)), ("text_77_tokens_ms", format(longMs, 2)),
        ]
        if json {
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            for (key, value) in fields { print("\(key.padding(toLength: 20, withPad: " ", startingAt: 0)) \(value)") }
        }
    }

    /// Median milliseconds of `runs` calls after one warm-up call.
    func median(runs: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return times.sorted()[runs / 2]
    }

    func format(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
}
