import CSDL2
import Capture
import Classifier
import ClipCamKit
import Display
import Foundation
import Glibc
import Investigator

/// How `clipcam investigate` looks at a video.
public struct InvestigateSettings: Sendable {
    public var path: String
    public var prompts: [String]
    public var range: ScoreRange
    /// Scaled percent at and above which a prompt's stretch is shaded as a segment; nil for none.
    public var threshold: Float?
    /// Plot raw cosines instead of scaled percent.
    public var raw: Bool
    /// Encode one frame in this many.
    public var every: Int
    public var windowSize: PixelSize
    public var fontPath: String?
    /// The time shown first, in seconds.
    public var startTime: Double
    /// Segments: the scaled scores averaged over this many sampled frames (centred) before the threshold.
    public var smooth: Int
    /// Segments: the shortest stretch shaded, in seconds.
    public var minLength: Double

    public init(
        path: String, prompts: [String], range: ScoreRange = .heuristic, threshold: Float? = nil, raw: Bool = false,
        every: Int = 1, windowSize: PixelSize = PixelSize(width: 1024, height: 720), fontPath: String? = nil,
        startTime: Double = 0, smooth: Int = 1, minLength: Double = 0
    ) {
        self.smooth = smooth
        self.minLength = minLength
        self.path = path
        self.prompts = prompts
        self.range = range
        self.threshold = threshold
        self.raw = raw
        self.every = every
        self.windowSize = windowSize
        self.fontPath = fontPath
        self.startTime = startTime
    }
}

/// The investigate window: the video above at its own rate, every prompt's score over the whole video below as a
/// plot strip that fills while a background thread encodes the frames; clicks on the plot seek, keys play, step
/// and skip, `/` adds a prompt whose line appears at once from the stored frame embeddings. Runs on the main
/// thread (SDL's rule); `step()` is one turn of its loop, so tests can push events and look after each.
public final class InvestigateWindow {
    public let settings: InvestigateSettings
    public let display: DisplayWindow
    public private(set) var state: InvestigateState
    public let encoder: BackgroundEncoder
    private let timeline: FrameTimeline
    private let logitScale: Float
    /// The video's size and rate.
    public let format: SourceFormat

    /// The decoder showing frames: started at a time for a seek or for playing.
    private var player: VideoFileSource?
    private var lastFrame: Frame?
    /// Scores so far: one line per prompt over the encoded frames.
    private var times: [Double] = []
    private var cosines: [[Float]] = []
    /// The same in the plot's units (scaled % or, with `raw`, the cosines), the lowest and highest cosine, and each
    /// line's segments as of `segmentsCount` frames: kept up to date as frames arrive rather than remade per frame.
    private var plotted: [[Float]] = []
    private var cosineBounds: (low: Float, high: Float)?
    private var segmentCache: [[PlotSegment]] = []
    private var segmentsCount = -1
    private var promptEmbeddings: [[Float]] = []
    /// Layouts as last drawn.
    public private(set) var overlayLayout: OverlayLayout?
    public private(set) var plotLayout: PlotLayout?
    /// When the last drag seek was carried out (drags seek at most every 60 ms; the release seeks last).
    private var lastDragSeek = 0.0
    private var pendingDragSeek: Double?

    /// Opens the window and starts encoding. `prompts` are embedded here, before the engine moves to its thread.
    public init(settings: InvestigateSettings, engine: sending ClipEngine, videoDriver: String? = nil) throws {
        self.settings = settings
        let probe = VideoFileSource(path: settings.path)
        try probe.start()
        format = probe.format
        probe.stop()
        let fps = format.fps ?? 25
        let duration = try VideoFileSource.duration(settings.path) ?? 0
        state = InvestigateState(
            duration: duration, sampleStep: Double(settings.every) / fps, prompts: settings.prompts)
        promptEmbeddings = settings.prompts.map { engine.embedPrompt($0).embedding }
        cosines = settings.prompts.map { _ in [] }
        plotted = cosines
        logitScale = engine.logitScale
        let fonts = try OverlayFonts(override: settings.fontPath)
        display = try DisplayWindow(
            title: "clipcam investigate", size: settings.windowSize, fonts: fonts, videoDriver: videoDriver)
        let expected = Int((duration * fps / Double(settings.every)).rounded(.up))
        timeline = FrameTimeline(expectedFrames: expected)
        encoder = BackgroundEncoder(engine: engine, path: settings.path, every: settings.every, timeline: timeline)
        try seek(to: state.snapped(settings.startTime))
    }

    deinit {
        player?.stop()
        encoder.stop()
    }

    /// The timestamp of the frame on screen.
    public var shownFrameTime: Double? { lastFrame?.timestamp }
    /// The frame on screen.
    public var shownFrame: Frame? { lastFrame }

    /// Runs until the user quits.
    public func run() throws {
        while try step() {}
    }

    /// One turn: events, the next frame when playing, new scores, drawing. Returns false once the user quit.
    @discardableResult
    public func step() throws -> Bool {
        for event in display.pollEvents() {
            for action in state.handle(event, plot: plotLayout) {
                switch action {
                case .quit:
                    return false
                case .seek(let time):
                    if state.dragging {
                        pendingDragSeek = time
                    } else {
                        try seek(to: time)
                    }
                case .play:
                    try seek(to: state.time)
                case .pause:
                    break
                case .addPrompt(let text):
                    encoder.embed(text)
                }
            }
            if case .release = event, let time = pendingDragSeek {
                pendingDragSeek = nil
                try seek(to: time)
            }
        }
        if let time = pendingDragSeek, MonotonicClock.now() - lastDragSeek > 0.06 {
            pendingDragSeek = nil
            lastDragSeek = MonotonicClock.now()
            try seek(to: time)
        }
        var frame: Frame?
        if state.playing, let player {
            // Paced by the decoder at the video's own rate.
            frame = try player.nextFrame()
            if let frame {
                lastFrame = frame
                state.played(to: frame.timestamp)
            } else {
                state.reachedEnd()
            }
        } else {
            usleep(15_000)
        }
        addNewPrompts()
        updateScores()
        try draw(frame: frame)
        return true
    }

    /// Shows the frame at `time` at once: a new decoder started there (ffmpeg's input seeking).
    public func seek(to time: Double) throws {
        player?.stop()
        let source = VideoFileSource(path: settings.path, startTime: time)
        try source.start()
        player = source
        if let frame = try source.nextFrame() {
            lastFrame = frame
            state.played(to: frame.timestamp)
        }
        try draw(frame: lastFrame)
    }

    private func addNewPrompts() {
        for prompt in encoder.takeEmbedded() where !state.prompts.contains(prompt.text) {
            state.added(prompt: prompt.text)
            promptEmbeddings.append(prompt.embedding)
            // The whole line at once, from the stored frame embeddings: only the text was encoded.
            let line = timeline.cosines(from: 0, prompts: [prompt.embedding]).cosines[0]
            cosines.append(Array(line.prefix(times.count)))
            plotted.append(cosines[cosines.count - 1].map(plotValue))
            for cosine in cosines[cosines.count - 1] { widenBounds(cosine) }
            segmentsCount = -1
        }
    }

    private func updateScores() {
        let (newTimes, newCosines) = timeline.cosines(from: times.count, prompts: promptEmbeddings)
        guard !newTimes.isEmpty else { return }
        times += newTimes
        for i in cosines.indices {
            cosines[i] += newCosines[i]
            plotted[i] += newCosines[i].map(plotValue)
            for cosine in newCosines[i] { widenBounds(cosine) }
        }
    }

    private func plotValue(_ cosine: Float) -> Float {
        settings.raw ? cosine : settings.range.percent(cosine)
    }

    private func widenBounds(_ cosine: Float) {
        cosineBounds = (min(cosineBounds?.low ?? cosine, cosine), max(cosineBounds?.high ?? cosine, cosine))
    }

    /// The plot's data as it stands.
    public func plotData() -> PlotData {
        let range = settings.range
        var yRange: ClosedRange<Float> = 0...100
        var threshold = settings.threshold
        if settings.raw {
            let low = (cosineBounds?.low ?? range.low) - 0.01
            let high = (cosineBounds?.high ?? range.high) + 0.01
            yRange = low...max(high, low + 0.02)
            threshold = settings.threshold.map { range.low + $0 / 100 * (range.high - range.low) }
        }
        if segmentsCount != times.count || segmentCache.count != cosines.count {
            segmentCache = cosines.map { line in settings.threshold.map { segments(line, percent: $0) } ?? [] }
            segmentsCount = times.count
        }
        let series = state.prompts.indices.map { i in
            PlotSeries(
                label: state.prompts[i], values: plotted[i], visible: !state.hidden.contains(i),
                segments: segmentCache[i])
        }
        let done = timeline.count
        let note =
            timeline.isFinished
            ? "\(done) frames encoded" : "encoding \(Int(100 * Double(done) / Double(timeline.expectedFrames))) %"
        return PlotData(
            times: times, series: series, yRange: yRange, unit: settings.raw ? .cosine : .percent,
            duration: max(state.duration, times.last ?? 0), cursor: state.time, threshold: threshold, note: note)
    }

    /// The segments `analyze` finds (the Investigator's): the scaled scores averaged over `smooth` sampled frames,
    /// stretches at or above `percent` lasting at least `minLength` seconds, each ending one sampled frame after
    /// its last.
    private func segments(_ line: [Float], percent: Float) -> [PlotSegment] {
        let scores = Timeline.centredAverage(line.map { settings.range.percent($0) }, window: settings.smooth)
        return Timeline.segments(
            scores, times: Array(times.prefix(line.count)), interval: state.sampleStep, threshold: percent,
            minLength: settings.minLength
        ).map { PlotSegment(start: $0.start, end: $0.end) }
    }

    /// The prompts at the frame shown: the three best, with probabilities over all prompts.
    func overlay() -> OverlayModel {
        let time = state.time
        let position = "\(clock(time)) / \(clock(state.duration))"
        let playing = state.playing ? "playing" : "paused"
        let progress =
            timeline.isFinished
            ? "all \(timeline.count) frames encoded"
            : "encoding \(timeline.count) of ~\(timeline.expectedFrames) frames"
        var model = OverlayModel(
            status: OverlayModel.Status(
                modelName: "", line: "\(position) · \(playing) · \(progress) · space play, ←/→ step, / new prompt"))
        if let error = timeline.error { model.banner = error }
        if let draft = state.draft { model.banner = "new prompt: " + draft + "▏" }
        // The encoded frame at (or just before) the time shown.
        let index = PlotStrip.firstIndex(times, atLeast: time + state.sampleStep / 2) - 1
        // Not encoded yet: the nearest encoded frame is another one, whose scores would mislead.
        guard index >= 0, index < times.count, !cosines.isEmpty, abs(times[index] - time) <= state.sampleStep
        else { return model }
        let frameCosines = cosines.map { $0[index] }
        let probabilities = Scoring.probabilities(cosines: frameCosines, logitScale: logitScale)
        let top = frameCosines.indices.sorted { frameCosines[$0] > frameCosines[$1] }.prefix(3)
        let rows = top.map { i in
            OverlayModel.PromptScore(prompt: state.prompts[i], cosine: frameCosines[i], probability: probabilities[i])
        }
        let cosineThreshold = settings.threshold.map {
            settings.range.low + $0 / 100 * (settings.range.high - settings.range.low)
        }
        model.scores = .multi(
            OverlayModel.MultiPrompt(
                rows: rows, range: settings.range.low...settings.range.high, threshold: cosineThreshold))
        return model
    }

    /// The plot's band: two fifths of the window, at least 160 pixels.
    private var plotHeight: Int { max(160, display.window.size.height * 2 / 5) }

    private func draw(frame: Frame?, present: Bool = true) throws {
        let model = overlay()
        let reserved = OverlayLayout.Reserved(plotHeight: plotHeight)
        let layout: OverlayLayout
        if let frame {
            layout = try BGRPixels.withPixels(of: frame.bgr, width: frame.width, height: frame.height) {
                try display.draw(frame: $0, overlay: model, reserved: reserved)
            }
        } else {
            layout = try display.draw(frame: nil, overlay: model, reserved: reserved)
        }
        overlayLayout = layout
        plotLayout = try display.plot.draw(plotData(), in: layout.plot)
        if present { display.present() }
    }

    /// Draws the window once more and saves it as PNG at `path` (written beside it, renamed over it when whole).
    public func saveScreenshot(path: String) throws {
        try draw(frame: lastFrame, present: false)
        let image = try display.renderer.readPixels()
        display.present()
        var bgr = [UInt8](repeating: 0, count: image.rgb.count)
        for i in stride(from: 0, to: bgr.count, by: 3) {
            (bgr[i], bgr[i + 1], bgr[i + 2]) = (image.rgb[i + 2], image.rgb[i + 1], image.rgb[i])
        }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let partial = folder + "." + name + ".partial-\(getpid())"
        do {
            try ImageFile.writePNG(
                Frame(index: 0, timestamp: 0, width: image.width, height: image.height, bgr: bgr), to: partial)
            guard rename(partial, path) == 0 else {
                throw SDLError.pngWriteFailed(path: path, message: String(cString: strerror(errno)))
            }
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// Waits (drawing) until the background encoder has finished or `seconds` passed; returns whether it finished.
    public func waitForEncoding(seconds: Double) throws -> Bool {
        let deadline = MonotonicClock.now() + seconds
        while !timeline.isFinished && MonotonicClock.now() < deadline { try step() }
        try step()
        return timeline.isFinished
    }

    /// Frames encoded in the background so far.
    public var encodedFrames: Int { timeline.count }
}

/// "1:05.3"
func clock(_ seconds: Double) -> String {
    let tenths = Int((max(0, seconds) * 10).rounded())
    let s = tenths / 10 % 60
    return "\(tenths / 600):\(s < 10 ? "0" : "")\(s).\(tenths % 10)"
}
