import Capture
import Classifier
import Display
import Foundation
import Glibc
import Synchronization

/// How a live run is set up; the `clipcam run` options.
public struct PipelineSettings: Sendable {
    /// A `--source` spec: `/dev/videoN`, a video or image file, a folder of images, `synthetic[:WxH@FPS]`.
    public var source: String
    public var capture: CaptureOptions
    /// Capacity of the encoder's queue (1 or 2).
    public var queueCapacity: Int
    public var prompts: [String]
    public var range: ScoreRange
    /// Scaled percent at or above which a frame is flagged; nil for none.
    public var threshold: Float?
    /// Scored frames the cosines are averaged over (1: no smoothing).
    public var smooth: Int
    /// Signature difference (mean absolute grey levels, see `FrameSignature`) below which a frame reuses the last
    /// encoded frame's embedding; nil encodes every frame.
    public var reuseThreshold: Double?
    /// Captured frames after which the run ends; nil runs until the source ends or the user quits.
    public var maxFrames: Int?
    /// No window: results only go to the sinks.
    public var headless: Bool
    /// A font file for the overlay instead of DejaVu Sans.
    public var fontPath: String?
    /// Where to save the last rendered window as PNG when the run ends.
    public var screenshotPath: String?
    public var windowSize: PixelSize
    /// Seconds the window's plot strip shows.
    public var plotSeconds: Double
    /// The plot strip is shown from the start (`g` toggles it).
    public var showPlot: Bool

    public init(
        source: String, capture: CaptureOptions = CaptureOptions(), queueCapacity: Int = 1, prompts: [String],
        range: ScoreRange = .heuristic, threshold: Float? = nil, smooth: Int = 1,
        reuseThreshold: Double? = FrameSignature.defaultThreshold, maxFrames: Int? = nil,
        headless: Bool = false, fontPath: String? = nil, screenshotPath: String? = nil,
        windowSize: PixelSize = PixelSize(width: 960, height: 540), plotSeconds: Double = 30, showPlot: Bool = false
    ) {
        self.source = source
        self.capture = capture
        self.queueCapacity = queueCapacity
        self.prompts = prompts
        self.range = range
        self.threshold = threshold
        self.smooth = smooth
        self.reuseThreshold = reuseThreshold
        self.maxFrames = maxFrames
        self.headless = headless
        self.fontPath = fontPath
        self.screenshotPath = screenshotPath
        self.windowSize = windowSize
        self.plotSeconds = plotSeconds
        self.showPlot = showPlot
    }
}

/// How a run went.
public struct RunSummary: Sendable {
    public var source: String
    public var format: SourceFormat
    public var captured: Int
    /// Frames run through the model.
    public var encoded: Int
    /// Frames scored with the last encoded frame's embedding.
    public var reused: Int
    public var dropped: Int
    /// The last result, if any frame was encoded.
    public var last: FrameResult?
    /// The user quit (window, `q`/Esc) or sent SIGINT/SIGTERM.
    public var interrupted: Bool
    /// The signal (SIGINT, SIGTERM) that ended the run, if one did.
    public var signal: Int32?
}

/// Failures of the pipeline itself (capture, model and sink errors keep their own types).
public enum PipelineError: Error, CustomStringConvertible {
    case screenshotFailed(path: String, reason: String)
    /// There is no screen: no $DISPLAY or $WAYLAND_DISPLAY (driver nil), or SDL fell back to `driver` (offscreen,
    /// dummy).
    case noDisplay(driver: String?, reason: String? = nil)

    public var description: String {
        switch self {
        case .screenshotFailed(let path, let reason):
            return "cannot save the window to \(path): \(reason); check the folder exists and is writable"
        case .noDisplay(let driver, let reason):
            let env = ProcessInfo.processInfo.environment
            let variables = ["DISPLAY", "WAYLAND_DISPLAY"].map { name in
                env[name].map { "$\(name) is \($0)" } ?? "$\(name) is not set"
            }
            let fallback =
                (driver.map { "; SDL could only draw off screen with its '\($0)' driver" } ?? "")
                + (reason.map { "; \($0)" } ?? "")
            return "there is no display to show the window on (\(variables.joined(separator: ", "))\(fallback)). "
                + "Run clipcam in a desktop session, or add --headless --jsonl - to print each frame's scores "
                + "(or --jsonl/--csv FILE)"
        }
    }
}

/// The live pipeline: a capture thread feeds the newest frames to the encoder thread (and, with a window, to the
/// display on the calling thread); the encoder writes each result to the sinks and keeps the newest one for the
/// overlay. The video is drawn at the source's rate, the overlay changes at the encoder's rate.
public final class Pipeline: Sendable {
    public let settings: PipelineSettings
    private let log: @Sendable (String) -> Void
    /// Notices from the capture thread (camera gone, back), shown in the window.
    private let notices = NoticeBoard()
    /// `stop()` was called; the running capture, once there is one.
    private let control = Mutex<(stopRequested: Bool, runner: CaptureRunner?)>((false, nil))

    public init(settings: PipelineSettings, log: @escaping @Sendable (String) -> Void) {
        precondition(!settings.prompts.isEmpty, "a run needs at least one prompt")
        self.settings = settings
        self.log = log
    }

    /// `run(engine:openSinks:)` with sinks that are already open.
    public func run(engine: sending ClipEngine, sinks: sending [any ResultSink]) throws -> RunSummary {
        // Handed over by the caller (`sending`) and returned by the closure exactly once.
        nonisolated(unsafe) let handed = sinks
        return try run(engine: engine, openSinks: { handed })
    }

    /// Runs until the source ends, `maxFrames` frames were captured, the user quits or SIGINT/SIGTERM arrives.
    /// Must be called on the main thread when a window is used (SDL's rule). `openSinks` is called once the window
    /// and the source are open, so that a missing file or camera leaves every output file as it was. Throws the
    /// error that ended the source (e.g. `CameraError.unplugged`) or a sink's error after everything has been shut
    /// down and flushed.
    public func run(engine: sending ClipEngine, openSinks: () throws -> sending [any ResultSink]) throws -> RunSummary {
        // From the start, SIGINT/SIGTERM end the run cleanly (sinks finished, camera closed) instead of killing it.
        let interrupts = InterruptWatcher { [self] in stop() }
        defer { interrupts.cancel() }
        // The window first: a missing display is reported before the camera is opened.
        let display: LiveDisplay? =
            settings.headless
            ? nil
            : try LiveDisplay(
                size: settings.windowSize, fontPath: settings.fontPath, modelName: engine.name,
                randomWeights: engine.isRandom, prompts: settings.prompts,
                threshold: settings.threshold, range: settings.range, plotSeconds: settings.plotSeconds,
                showPlot: settings.showPlot)

        var options = settings.capture
        let log = self.log
        let notices = self.notices
        let earlier = options.log
        options.log = { message in
            earlier?(message)
            log(message)
            notices.post(message)
        }
        let source = try FrameSources.open(settings.source, options: options)
        let encoderQueue = LatestFrameQueue(capacity: settings.queueCapacity)
        let displayQueue = display == nil ? nil : LatestFrameQueue(capacity: 1)
        let runner = try CaptureRunner.start(
            source: source, queues: [encoderQueue] + (displayQueue.map { [$0] } ?? []),
            maxFrames: settings.maxFrames)
        let sinks: [any ResultSink]
        do {
            sinks = try openSinks()
        } catch {
            runner.stop()
            throw error
        }
        let format = runner.format.description
        log("source: \(runner.name)" + (runner.name.contains(format) ? "" : ", \(format)"))
        if control.withLock({ state in
            state.runner = runner
            return state.stopRequested
        }) {
            runner.stop()
        }

        guard
            let encoder = EncoderWorker.start(
                engine: engine, prompts: settings.prompts, range: settings.range, threshold: settings.threshold,
                smooth: settings.smooth, reuseThreshold: settings.reuseThreshold, queue: encoderQueue, sinks: sinks,
                log: log, isCancelled: { self.control.withLock { $0.stopRequested } })
        else {
            runner.stop()
            return RunSummary(
                source: runner.name, format: runner.format, captured: runner.stats.captured, encoded: 0, reused: 0,
                dropped: 0, last: nil, interrupted: true, signal: interrupts.receivedSignal)
        }

        var quit = false
        if let display, let displayQueue {
            // The encoder and its helpers already run; the display defers to them from here on (see
            // ThreadPriority). Threads started later would inherit the lower priority: none are.
            let nice = ThreadPriority.currentNice
            ThreadPriority.lowerCurrentThread()
            defer { ThreadPriority.set(nice) }
            quit = try display.loop(
                queue: displayQueue, runner: runner, encoder: encoder, notices: notices,
                interrupted: { interrupts.fired })
            // Quitting ends the capture; the encoder then finishes the frames it holds. (Waiting for the encoder
            // first would wait for a live source that never ends.)
            if quit { runner.stop() }
        }
        encoder.wait()
        runner.stop()

        if let display, let path = settings.screenshotPath {
            let texts = try display.saveScreenshot(path: path, runner: runner, encoder: encoder)
            log("screenshot \(path): \(texts)")
        }
        let summary = RunSummary(
            source: runner.name, format: runner.format, captured: runner.stats.captured,
            encoded: encoder.stats.encoded, reused: encoder.stats.reused, dropped: encoder.dropped,
            last: encoder.latest,
            interrupted: quit || interrupts.fired, signal: interrupts.receivedSignal)
        if let error = encoder.error { throw error }
        if let error = runner.error { throw error }
        return summary
    }

    /// Ends the run as if the source had ended: the capture stops, the encoder scores the frames already in its
    /// queue, and the window closes. Safe from any thread, e.g. from a sink on the encoder thread (which is how
    /// `clipcam bench` ends its pipeline run after a set number of scored frames); before `run`, the run ends
    /// right after it starts.
    public func stop() {
        let runner = control.withLock { state in
            state.stopRequested = true
            return state.runner
        }
        runner?.stop()
    }
}

/// The latest notice from the capture thread, for the window's banner.
final class NoticeBoard: Sendable {
    private let state = Mutex<(text: String, time: Double)?>(nil)

    func post(_ text: String) {
        state.withLock { $0 = (text, MonotonicClock.now()) }
    }

    /// The latest notice if it is younger than `seconds`.
    func current(maxAge seconds: Double) -> String? {
        state.withLock { value in
            guard let value, MonotonicClock.now() - value.time < seconds else { return nil }
            return value.text
        }
    }
}
