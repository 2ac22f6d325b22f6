import ArgumentParser
import Capture
import ClipCamKit
import Display
import Foundation
import InvestigateWindow
import SafeFiles

struct Investigate: ParsableCommand, RepeatableOptions {
    static let repeatableOptions: Set<String> = ["--prompt"]

    static let configuration = CommandConfiguration(
        abstract: "Look into a video: every prompt's score over time under the video; click the plot to seek.",
        discussion: """
            One window: the video above at its own rate, below it one line per prompt over the whole video (x: time, \
            y: the cosine scaled from --range to 0–100 %, or the raw cosine with --raw), the current time as a \
            cursor, --threshold as a dashed line with the stretches above it shaded. The frames are encoded in the \
            background as fast as the machine allows and the plot fills as they are. Keys: space plays and pauses, \
            ←/→ step one sampled frame, Shift+←/→ 10 s, Home/End, 1–9 hide or show a prompt's line, / types a new \
            prompt (its line appears at once for the whole video: only its text is encoded), q or Esc quits. Click \
            or drag on the plot to seek.
            """
    )

    @Argument(help: ArgumentHelp("The video file.", valueName: "video")) var video: String
    @OptionGroup var model: ModelOptions
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp("A prompt to plot; give it several times for several lines.", valueName: "text"))
    var prompt: [String] = []
    @Option(help: ArgumentHelp("A prompt file or the name of a prompt set (e.g. desk).", valueName: "file|name"))
    var prompts: String?
    @OptionGroup var range: RangeOption
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Shade the stretches whose scaled score reaches this value (0–100).", valueName: "percent"))
    var threshold: Float?
    @Flag(help: "Plot raw cosines instead of scaled scores.") var raw = false
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Encode one frame in N (1–\(Investigate.everyRange.upperBound); default: every frame).", valueName: "n"))
    var every = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("The time shown first, in seconds.", valueName: "seconds"))
    var start = 0.0
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Segments: average each prompt's score over N sampled frames, centred, before --threshold "
                + "(1–\(Run.smoothRange.upperBound); as `analyze`).", valueName: "frames"))
    var smooth = 1
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Segments: shade only stretches at least this long (0–86400 s; as `analyze`).", valueName: "seconds"))
    var minLength = 0.0
    @Option(parsing: .unconditional, help: ArgumentHelp("Initial window size, each side 100–8192.", valueName: "WxH"))
    var windowSize = "1024x720"
    @Option(help: ArgumentHelp("A TrueType/OpenType font for the window.", valueName: "file")) var font: String?
    @Option(
        help: ArgumentHelp(
            "When the window closes, save it as last shown as PNG (for documentation).", valueName: "file"))
    var screenshot: String?
    @Option(
        help: ArgumentHelp(
            "When the window closes, write the whole video's plot as a 1600x480 PNG (cursor left out).",
            valueName: "file"))
    var savePlot: String?
    @Flag(
        help: "Close the window once every frame is encoded (with --screenshot: a picture of the whole video's plot).")
    var closeWhenEncoded = false

    static let everyRange = 1...10_000
    /// The plot draws nine toggles and a legend; more prompts than this are hard to tell apart.
    static let maxPrompts = 100

    func validate() throws {
        try checkNotEmpty([
            ("--prompts", prompts), ("--font", font), ("--screenshot", screenshot), ("--save-plot", savePlot),
        ])
        try checkPromptOptions(prompt: prompt, prompts: prompts)
        if let threshold { try check(threshold, in: 0...100, option: "--threshold", unit: "a scaled score, %") }
        try check(every, in: Investigate.everyRange, option: "--every", unit: "frames")
        try check(start, in: 0...1e9, option: "--start", unit: "seconds")
        try check(smooth, in: Run.smoothRange, option: "--smooth", unit: "sampled frames")
        try check(minLength, in: SegmentOptions.minLengthRange, option: "--min-length", unit: "seconds")
        let window = try Run.parseSize(windowSize, option: "--window-size")
        guard Run.windowSide.contains(window.width), Run.windowSide.contains(window.height) else {
            throw ValidationError(
                "--window-size \(windowSize) is out of range: each side must be "
                    + "\(Run.windowSide.lowerBound)–\(Run.windowSide.upperBound) pixels")
        }
        do {
            if let screenshot { try OutputPaths.checkReplaceable(screenshot, option: "--screenshot") }
            if let savePlot { try OutputPaths.checkReplaceable(savePlot, option: "--save-plot") }
            try OutputPaths.checkDistinct(
                outputs: [("--screenshot", screenshot), ("--save-plot", savePlot)],
                inputs: [("VIDEO", video), ("--prompts", prompts.flatMap(PromptFile.path)), ("--font", font)],
                inputFiles: [])
        } catch let error as OutputPathError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let kind = FileKind.of(SystemPath(video))
        guard kind == .regular else {
            printError("error: \(video) is \(kind == .missing ? "missing" : "not a regular file (\(kind.noun))")")
            throw ExitCode.failure
        }
        let texts = uniquePrompts(try prompts.map { try PromptFile.load($0, limit: Investigate.maxPrompts) } ?? prompt)
        let environment = ProcessInfo.processInfo.environment
        if (environment["SDL_VIDEODRIVER"] ?? "").isEmpty
            && ["DISPLAY", "WAYLAND_DISPLAY"].allSatisfy({ (environment[$0] ?? "").isEmpty })
        {
            printError("error: there is no display to show the window on (no $DISPLAY or $WAYLAND_DISPLAY)")
            throw ExitCode.failure
        }
        let engine = try model.loadEngine()
        let size = try Run.parseSize(windowSize, option: "--window-size")
        let settings = InvestigateSettings(
            path: video, prompts: texts, range: range.range, threshold: threshold, raw: raw, every: every,
            windowSize: PixelSize(width: size.width, height: size.height), fontPath: font, startTime: start,
            smooth: smooth, minLength: minLength)
        let window: InvestigateWindow
        do {
            window = try InvestigateWindow(settings: settings, engine: engine)
            if closeWhenEncoded {
                _ = try window.waitForEncoding(seconds: .infinity)
            } else {
                try window.run()
            }
            if let screenshot {
                try window.saveScreenshot(path: screenshot)
                printError("clipcam: screenshot \(screenshot)")
            }
            if let savePlot {
                var data = window.plotData()
                data.cursor = nil
                try PlotImage.writePNG(
                    data, width: 1600, height: 480, path: savePlot, fonts: try OverlayFonts(override: font))
                printError("clipcam: plot \(savePlot)")
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        printError("clipcam: \(window.encodedFrames) frames encoded")
    }
}
