import ArgumentParser
import CLIPModel
import Capture
import Classifier
import ClipCamKit
import Display
import Foundation
import SafeFiles

struct Run: ParsableCommand, RepeatableOptions, WholeNumberOptions {
    static let repeatableOptions: Set<String> = ["--prompt"]
    static let wholeNumberOptions = ModelOptions.wholeNumberOptions.merging([
        "--queue": WholeNumberBound(range: 1...2, unit: "frames"),
        "--smooth": WholeNumberBound(range: smoothRange, unit: "scored frames"),
        "--frames": WholeNumberBound(range: framesRange, unit: "frames"),
    ]) { $1 }

    static let configuration = CommandConfiguration(
        abstract: "Classify live video: score each frame against a prompt, or label it with the best of several.",
        discussion: """
            The window shows every captured frame; the overlay shows the newest encoded frame's score \
            (--prompt: the cosine scaled from --range to 0–100 %, as a number and a bar) or every prompt with its \
            bar and softmax probability, the best highlighted (--prompts). Keys: q or Esc quits, space pauses, \
            p cycles between all prompts and each one alone, g shows the scores of the last --plot-seconds as \
            lines under the video (1–9 hide a prompt's line), / starts typing a new prompt (Enter embeds it, Esc \
            cancels). --headless runs without a window; --jsonl - then prints one JSON line per scored frame. A \
            frame that looks like the last encoded one is scored with its embedding ("reused"; --no-reuse turns \
            this off).
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "What to look for, e.g. \"a coffee cup\". Give it several times to label frames with the best of "
                + "those prompts.",
            valueName: "text"))
    var prompt: [String] = []
    @Option(help: ArgumentHelp("A prompt file or the name of a prompt set (e.g. desk).", valueName: "file|name"))
    var prompts: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "A camera (/dev/videoN, or N), a video file, an image file, a folder of images, or synthetic[:WxH@FPS] "
                + "(default: the first camera `clipcam cameras` lists).",
            valueName: "source"))
    var source: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Requested capture size, each side 16–8192 pixels and at most 7680x4320 in all.", valueName: "WxH"))
    var size: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Requested camera frame rate; the rate of images and synthetic sources (0.1–1000).", valueName: "fps"))
    var fps: Double?
    @Flag(
        help: ArgumentHelp(
            "Files and synthetic sources: frames as fast as they can be read, not at their own rate; those the "
                + "encoder has no time for are dropped and counted, as with a camera faster than the encoder."))
    var fast = false
    @Flag(help: "Images and video files: start again at the end.") var loop = false
    @Flag(help: "Camera: when it is unplugged, wait for it to return instead of ending.") var reconnect = false
    @Option(
        parsing: .unconditional, help: "Frames the encoder's queue keeps (1 or 2); older ones are dropped and counted.")
    var queue = 1
    @OptionGroup var range: RangeOption
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Flag frames whose scaled score reaches this value (0–100).", valueName: "percent"))
    var threshold: Float?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Average the cosines over this many scored frames (1–\(Run.smoothRange.upperBound)).", valueName: "frames"))
    var smooth = 1
    @Flag(
        inversion: .prefixedNo,
        help: "Score a frame that looks like the last encoded one with that frame's embedding instead of encoding it.")
    var reuse = true
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Mean grey-level difference of 32x24 thumbnails (0-255) below which a frame counts as unchanged.",
            valueName: "levels"))
    var reuseThreshold = FrameSignature.defaultThreshold
    @Flag(help: "No window: results go only to --jsonl / --csv.") var headless = false
    @Option(
        help: ArgumentHelp(
            "Write one JSON line per scored frame to a file, or - for standard output.",
            valueName: "file|-"))
    var jsonl: String?
    @Option(help: ArgumentHelp("Write one CSV row per scored frame (or - for standard output).", valueName: "file|-"))
    var csv: String?
    @Option(help: ArgumentHelp("A TrueType/OpenType font for the overlay.", valueName: "file")) var font: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("End after this many captured frames (1–\(Run.framesRange.upperBound)).", valueName: "count")
    )
    var frames: Int?
    @Option(
        help: ArgumentHelp(
            "When the run ends, save the window as last shown (banner included) as PNG.", valueName: "file"))
    var screenshot: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Initial window size, each side 100–8192.", valueName: "WxH"))
    var windowSize = "960x540"
    @Flag(help: "Show the plot of the scores over time from the start (g shows and hides it).") var plot = false
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds the plot shows (\(Int(Run.plotSecondsRange.lowerBound))–\(Int(Run.plotSecondsRange.upperBound))).",
            valueName: "seconds"))
    var plotSeconds = 30.0

    /// The bounds of the numeric options, named in their help and in the errors.
    static let smoothRange = 1...1000
    static let framesRange = 1...1_000_000_000
    static let windowSide = 100...8192
    static let plotSecondsRange = 1.0...86400.0
    /// Prompts a run takes at most (a prompt is embedded once at the start, about 7 ms each).
    static let maxPrompts = 10_000

    func validate() throws {
        try checkNotEmpty([
            ("--prompts", prompts), ("--source", source), ("--jsonl", jsonl), ("--csv", csv), ("--font", font),
            ("--screenshot", screenshot),
        ])
        try checkPromptOptions(prompt: prompt, prompts: prompts)
        if let size {
            let parsed = try Run.parseSize(size, option: "--size")
            if let problem = FrameLimits.sizeProblem(width: parsed.width, height: parsed.height) {
                throw ValidationError("--size \(size) is out of range: \(problem)")
            }
        }
        let window = try Run.parseSize(windowSize, option: "--window-size")
        guard Run.windowSide.contains(window.width), Run.windowSide.contains(window.height) else {
            throw ValidationError(
                "--window-size \(windowSize) is out of range: each side must be "
                    + "\(Run.windowSide.lowerBound)–\(Run.windowSide.upperBound) pixels")
        }
        if let fps { try check(fps, in: FrameLimits.fps, option: "--fps", unit: "frames per second") }
        try check(queue, option: "--queue", in: Run.wholeNumberOptions)
        if let threshold { try check(threshold, in: 0...100, option: "--threshold", unit: "a scaled score, %") }
        try check(smooth, option: "--smooth", in: Run.wholeNumberOptions)
        try check(reuseThreshold, in: 0...255, option: "--reuse-threshold", unit: "grey levels")
        if let frames { try check(frames, option: "--frames", in: Run.wholeNumberOptions) }
        if headless && screenshot != nil { throw ValidationError("--screenshot needs the window; drop --headless") }
        try check(plotSeconds, in: Run.plotSecondsRange, option: "--plot-seconds", unit: "seconds")
        if headless && plot { throw ValidationError("--plot draws in the window; drop it with --headless") }
        if headless && font != nil { throw ValidationError("--font is the window's font; drop it with --headless") }
        if headless && jsonl == nil && csv == nil {
            throw ValidationError("--headless shows nothing; add --jsonl FILE|- or --csv FILE")
        }
        do {
            if let screenshot { try OutputPaths.checkReplaceable(screenshot, option: "--screenshot") }
            // Everything the run reads: the source (a folder's images one by one), the prompt file (a named set
            // too), the font and the model's files.
            let folderImages = source.flatMap { try? ImageSource.listImages(in: $0) } ?? []
            try OutputPaths.checkDistinct(
                outputs: [("--jsonl", jsonl), ("--csv", csv), ("--screenshot", screenshot)],
                inputs: [("--source", source), ("--prompts", prompts.flatMap(PromptFile.path)), ("--font", font)]
                    + ModelLocation.requiredFiles.map { file in
                        ("--model", (try? model.directory())?.appendingPathComponent(file).path)
                    },
                inputFiles: folderImages.map { ("--source", $0) })
        } catch let error as OutputPathError {
            throw ValidationError(error.description)
        }
    }

    /// The options given that this source does not use, each with why (told, not silently dropped). Decided from
    /// the spec and the file's name alone (no ffprobe): a file whose kind only ffprobe could tell gets none.
    func ignoredOptions(source: String) -> [String] {
        let path = SystemPath(source)
        let kind = FileKind.of(path)
        let name = String(decoding: path.lastComponent, as: UTF8.self).lowercased()
        let hasExtension = { (extensions: Set<String>) in extensions.contains { name.hasSuffix("." + $0) } }
        let isSynthetic = source == "synthetic" || source.hasPrefix("synthetic:")
        let isCamera =
            !isSynthetic
            && (kind == .characterDevice || source.hasPrefix("/dev/video") || source.hasPrefix("/dev/v4l/")
                || (!source.isEmpty && source.allSatisfy { $0.isASCII && $0.isNumber }))
        let isVideo = kind == .regular && hasExtension(FrameSources.videoExtensions)
        let isImage = kind == .regular && hasExtension(ImageSource.imageExtensions)
        let isFolder = kind == .directory
        var warnings: [String] = []
        if isVideo {
            if fps != nil { warnings.append("--fps does nothing for a video file, which plays at its own rate") }
            if size != nil { warnings.append("--size does nothing for a video file, which keeps its own size") }
        }
        if isImage && size != nil { warnings.append("--size does nothing for an image, which keeps its own size") }
        if isFolder && size != nil {
            warnings.append("--size does nothing for a folder of images, each of which keeps its own size")
        }
        if source.hasPrefix("synthetic:") {
            let spec = source.dropFirst("synthetic:".count)
            if size != nil && !spec.hasPrefix("@") {
                warnings.append("--size does nothing: '\(source)' names the size")
            }
            if fps != nil && spec.contains("@") { warnings.append("--fps does nothing: '\(source)' names the rate") }
        }
        if reconnect && !isCamera { warnings.append("--reconnect is for cameras; \(path) is not one") }
        if loop && isCamera { warnings.append("--loop is for images and video files; a camera does not end") }
        if loop && isSynthetic {
            warnings.append("--loop is for images and video files; a synthetic source does not end")
        }
        if fast && isCamera { warnings.append("--fast is for files and synthetic sources; a camera has its own rate") }
        return warnings
    }

    /// WxH as two whole numbers; whether they are in range is `validate`'s to say (0x0 and a side of 30 digits
    /// are sizes out of range, not malformed ones).
    static func parseSize(_ text: String, option: String) throws -> (width: Int, height: Int) {
        guard let size = FrameLimits.parseSize(text) else {
            throw ValidationError("\(option) takes WIDTHxHEIGHT, e.g. 640x480; got '\(text)'")
        }
        return size
    }

    func run() throws {
        let source: String
        do {
            source = try CameraDevices.runSource(self.source)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        for warning in ignoredOptions(source: source) { printError("warning: \(warning)") }
        let texts = uniquePrompts(try prompts.map { try PromptFile.load($0, limit: Run.maxPrompts) } ?? prompt)
        let engine = try model.loadEngine()
        let kernel = engine.model.floatKernel
        var kernels = "fp32 kernel \(kernel.kernel.rawValue): \(kernel.reason)"
        if model.precision != .fp32 {
            let integer = engine.model.integerKernel
            kernels +=
                "; \(model.precision.rawValue) kernel \(integer.rawValue): \(QuantizedKernel.reason(for: integer))"
        }
        printError("clipcam: CPU \(CPUInfo.current.summary); \(kernels)")
        var capture = CaptureOptions(fast: fast, loop: loop, reconnect: reconnect)
        if let size {
            (capture.width, capture.height) = try Run.parseSize(size, option: "--size")
        }
        capture.fps = fps
        let window = try Run.parseSize(windowSize, option: "--window-size")
        let settings = PipelineSettings(
            source: source, capture: capture, queueCapacity: queue, prompts: texts, range: range.range,
            threshold: threshold, smooth: smooth, reuseThreshold: reuse ? reuseThreshold : nil, maxFrames: frames,
            headless: headless, fontPath: font,
            screenshotPath: screenshot, windowSize: PixelSize(width: window.width, height: window.height),
            plotSeconds: plotSeconds, showPlot: plot)
        // Opened once the window, the model and the source are ready: a run that fails before leaves them as
        // they were.
        let openSinks: () throws -> sending [any ResultSink] = { [jsonl, csv] in
            var sinks: [any ResultSink] = []
            if let jsonl { sinks.append(try JSONLSink(path: jsonl)) }
            if let csv { sinks.append(try CSVSink(path: csv)) }
            return sinks
        }

        let pipeline = Pipeline(settings: settings, log: { printError("clipcam: " + $0) })
        let summary: RunSummary
        do {
            summary = try pipeline.run(engine: engine, openSinks: openSinks)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        printError(
            "clipcam: \(summary.captured) frames captured, \(summary.encoded) encoded, \(summary.dropped) dropped"
                + (summary.reused > 0 ? ", \(summary.reused) reused" : "")
                + (summary.signal.map { " (stopped by \(String(cString: strsignal($0))))" }
                    ?? (summary.interrupted ? " (stopped)" : "")))
        // As shells expect of a program a signal ended: 128 + the signal's number (130 for Ctrl-C).
        if let signal = summary.signal { throw ExitCode(128 + signal) }
    }
}
