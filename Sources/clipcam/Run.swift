import ArgumentParser
import Capture
import Classifier
import ClipCamKit
import Display
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify live video: score each frame against a prompt, or label it with the best of several.",
        discussion: """
            The window shows every captured frame; the overlay shows the newest encoded frame's score \
            (--prompt: the cosine scaled from --range to 0–100 %, as a number and a bar) or every prompt with its \
            bar and softmax probability, the best highlighted (--prompts). Keys: q or Esc quits, space pauses, \
            p cycles between all prompts and each one alone, / starts typing a new prompt (Enter embeds it, Esc \
            cancels). --headless runs without a window; --jsonl - then prints one JSON line per scored frame. A \
            frame that looks like the last encoded one is scored with its embedding ("reused"; --no-reuse turns \
            this off).
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "What to look for, e.g. \"a coffee cup\".") var prompt: String?
    @Option(help: ArgumentHelp("A prompt file or the name of a prompt set (e.g. desk).", valueName: "file|name"))
    var prompts: String?
    @Option(
        help: ArgumentHelp(
            "A camera (/dev/videoN, or N), a video file, an image file, a folder of images, or synthetic[:WxH@FPS] "
                + "(default: the first camera `clipcam cameras` lists).",
            valueName: "source"))
    var source: String?
    @Option(help: ArgumentHelp("Requested capture size.", valueName: "WxH")) var size: String?
    @Option(help: "Requested camera frame rate; the rate of images and synthetic sources.") var fps: Double?
    @Flag(help: "Files and synthetic sources: as fast as the encoder takes frames, not at their own rate.")
    var fast = false
    @Flag(help: "Images and video files: start again at the end.") var loop = false
    @Flag(help: "Camera: when it is unplugged, wait for it to return instead of ending.") var reconnect = false
    @Option(help: "Frames the encoder's queue keeps (1 or 2); older ones are dropped and counted.")
    var queue = 1
    @OptionGroup var range: RangeOption
    @Option(help: "Flag frames whose scaled score (0–100) reaches this value.") var threshold: Float?
    @Option(help: "Average the cosines over this many scored frames.") var smooth = 1
    @Flag(
        inversion: .prefixedNo,
        help: "Score a frame that looks like the last encoded one with that frame's embedding instead of encoding it.")
    var reuse = true
    @Option(
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
    @Option(help: ArgumentHelp("Write one CSV row per scored frame.", valueName: "file")) var csv: String?
    @Option(help: ArgumentHelp("A TrueType/OpenType font for the overlay.", valueName: "file")) var font: String?
    @Option(help: "End after this many captured frames.") var frames: Int?
    @Option(
        help: ArgumentHelp(
            "When the run ends, save the window as last shown (banner included) as PNG.", valueName: "file"))
    var screenshot: String?
    @Option(help: ArgumentHelp("Initial window size.", valueName: "WxH")) var windowSize = "960x540"

    func validate() throws {
        switch (prompt, prompts) {
        case (nil, nil): throw ValidationError("give --prompt TEXT or --prompts FILE|NAME")
        case (.some, .some): throw ValidationError("give either --prompt or --prompts, not both")
        default: break
        }
        if let prompt, prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--prompt is empty")
        }
        if let size { _ = try Run.parseSize(size, option: "--size") }
        _ = try Run.parseSize(windowSize, option: "--window-size")
        if let fps, !(fps > 0 && fps.isFinite) { throw ValidationError("--fps must be a positive number") }
        if !(1...2).contains(queue) { throw ValidationError("--queue must be 1 or 2, not \(queue)") }
        if smooth < 1 { throw ValidationError("--smooth must be at least 1, not \(smooth)") }
        if let threshold, !(0...100).contains(threshold) {
            throw ValidationError("--threshold is a scaled score between 0 and 100, not \(threshold)")
        }
        if !(reuseThreshold >= 0 && reuseThreshold <= 255) {
            throw ValidationError(
                "--reuse-threshold is a grey-level difference between 0 and 255, not \(reuseThreshold)")
        }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1, not \(frames)") }
        if headless && screenshot != nil { throw ValidationError("--screenshot needs the window; drop --headless") }
        if headless && jsonl == nil && csv == nil {
            throw ValidationError("--headless shows nothing; add --jsonl FILE|- or --csv FILE")
        }
    }

    static func parseSize(_ text: String, option: String) throws -> (width: Int, height: Int) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else {
            throw ValidationError("\(option) takes WIDTHxHEIGHT, e.g. 640x480; got '\(text)'")
        }
        return (width, height)
    }

    func run() throws {
        let source: String
        do {
            source = try CameraDevices.runSource(self.source)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let texts = try prompt.map { [$0] } ?? PromptFile.load(prompts!)
        let engine = try model.loadEngine()
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
            screenshotPath: screenshot, windowSize: PixelSize(width: window.width, height: window.height))
        var sinks: [any ResultSink] = []
        if let jsonl { sinks.append(try JSONLSink(path: jsonl)) }
        if let csv { sinks.append(try CSVSink(path: csv)) }

        let pipeline = Pipeline(settings: settings, log: { printError("clipcam: " + $0) })
        do {
            let summary = try pipeline.run(engine: engine, sinks: sinks)
            printError(
                "clipcam: \(summary.captured) frames captured, \(summary.encoded) encoded, \(summary.dropped) dropped"
                    + (summary.reused > 0 ? ", \(summary.reused) reused" : "")
                    + (summary.interrupted ? " (stopped)" : ""))
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }
}
