import Capture
import Classifier
import Display
import Foundation
import Glibc
import SafeFiles

/// The window side of a run, on the main thread: draws every frame from the display queue with the overlay of the
/// newest result, and turns keys into pause, prompt cycling and new prompts.
final class LiveDisplay {
    private let window: DisplayWindow
    private let modelName: String
    private let randomWeights: Bool
    private let threshold: Float?
    private let range: ScoreRange
    /// Prompts as the encoder currently has them.
    private var prompts: [String] = []
    /// nil: every prompt (multi-prompt view); i: prompt i alone (single-prompt view).
    private var view: Int?
    private var paused = false
    private var draft: String?
    private var lastFrame: Frame?
    /// The banner of the last drawn window (an error, the pause, a notice), kept for the screenshot.
    private var lastBanner: String?
    /// The plot strip of the last seconds (`g` shows and hides it), fed from the encoder's results.
    private var history: LivePlotHistory
    private var showPlot: Bool
    /// Prompts whose lines are hidden (keys 1–9).
    private var hiddenLines: Set<Int> = []
    /// Results taken from the encoder so far.
    private var resultsSeen = 0
    /// Height the window grew by for the plot, given back when it is hidden.
    private var plotHeight = 0
    /// How long an error stays on screen before the window closes.
    static let errorLinger = 3.0

    init(
        size: PixelSize, fontPath: String?, modelName: String, randomWeights: Bool, prompts: [String],
        threshold: Float?, range: ScoreRange, plotSeconds: Double = 30, showPlot: Bool = false
    ) throws {
        // With no screen SDL falls back to drawing in memory: a window nobody sees, a run that shows nothing.
        // That is only wanted when asked for by name (SDL_VIDEODRIVER=offscreen, as tests and bench do). Without
        // $DISPLAY or $WAYLAND_DISPLAY there is no screen to try (and SDL's probing would only print noise).
        let environment = ProcessInfo.processInfo.environment
        let requested = environment["SDL_VIDEODRIVER"] ?? ""
        if requested.isEmpty && ["DISPLAY", "WAYLAND_DISPLAY"].allSatisfy({ (environment[$0] ?? "").isEmpty }) {
            throw PipelineError.noDisplay(driver: nil)
        }
        // libwayland finds its compositor through $WAYLAND_DISPLAY when that is a path, else through
        // $XDG_RUNTIME_DIR, and without either it only prints "error: XDG_RUNTIME_DIR is invalid or not set in the
        // environment." on standard error when SDL tries it. Then X11 is the only display there can be: SDL is asked
        // for it alone, and its failure is told as clipcam's own message.
        let display = environment["DISPLAY"] ?? ""
        let waylandReachable =
            (environment["WAYLAND_DISPLAY"] ?? "").hasPrefix("/")
            || (environment["XDG_RUNTIME_DIR"] ?? "").hasPrefix("/")
        let onlyX11 = requested.isEmpty && !display.isEmpty && !waylandReachable
        let fonts = try OverlayFonts(override: fontPath)
        // The plot gets a band of its own below the video: the window is taller by it.
        let plotHeight = showPlot ? LiveDisplay.plotHeight(forWindowHeight: size.height) : 0
        do {
            window = try DisplayWindow(
                title: "clipcam", size: PixelSize(width: size.width, height: size.height + plotHeight), fonts: fonts,
                videoDriver: onlyX11 ? "x11" : nil)
        } catch let error as SDLError where onlyX11 {
            guard case .callFailed = error else { throw error }
            throw PipelineError.noDisplay(
                driver: nil,
                reason: "SDL cannot open the X display \(display): \(SDLError.currentMessage()); Wayland is out of "
                    + "reach too, $XDG_RUNTIME_DIR being unset")
        }
        self.plotHeight = plotHeight
        self.showPlot = showPlot
        history = LivePlotHistory(seconds: plotSeconds)
        if window.video.isHeadless && requested.isEmpty {
            throw PipelineError.noDisplay(driver: window.video.driver)
        }
        self.modelName = modelName
        self.randomWeights = randomWeights
        self.threshold = threshold
        self.range = range
        self.prompts = prompts
        view = prompts.count == 1 ? 0 : nil
    }

    /// Draws until the user quits, or until the capture and encoder have both ended (an error stays on screen
    /// for `errorLinger` seconds first). Returns true when the user quit.
    func loop(
        queue: LatestFrameQueue, runner: CaptureRunner, encoder: EncoderWorker, notices: NoticeBoard,
        interrupted: () -> Bool
    ) throws -> Bool {
        var errorSince: Double?
        var quit = false
        while !interrupted() {
            for event in window.pollEvents() {
                switch event {
                case .quit:
                    quit = true
                case .togglePause:
                    paused.toggle()
                    encoder.paused = paused
                case .nextPrompt:
                    if prompts.count > 1 {
                        view = view.map { $0 + 1 < prompts.count ? $0 + 1 : nil } ?? 0
                    }
                case .promptDraft(let text):
                    draft = text
                case .promptCancelled:
                    draft = nil
                case .newPrompt(let text):
                    draft = nil
                    var updated = prompts
                    if let index = view, index < updated.count {
                        updated[index] = text
                    } else if !updated.contains(text) {
                        updated.append(text)
                    }
                    encoder.setPrompts(updated)
                    prompts = updated
                case .togglePlot:
                    togglePlot()
                case .toggleSeries(let index):
                    if hiddenLines.contains(index) { hiddenLines.remove(index) } else { hiddenLines.insert(index) }
                default:
                    break
                }
            }
            if quit { break }
            var frame: Frame?
            do {
                frame = try queue.pop(timeout: paused ? 0.03 : 0.05)
            } catch {
                frame = nil
            }
            if paused { frame = nil }
            if let frame { lastFrame = frame }
            let finished = queue.isFinished && encoder.isFinished
            var banner: String?
            if let error = runner.error ?? encoder.error {
                banner = "\(error)"
                errorSince = errorSince ?? MonotonicClock.now()
            } else if let text = draft {
                banner = "new prompt: " + text + "▏"
            } else if paused {
                banner = "paused — space to resume"
            } else if let notice = notices.current(maxAge: 3) {
                banner = notice
            }
            try draw(frame: frame, runner: runner, encoder: encoder, banner: banner)
            lastBanner = banner
            window.present()
            if finished {
                if let since = errorSince, MonotonicClock.now() - since < LiveDisplay.errorLinger {
                    usleep(30_000)
                    continue
                }
                break
            }
        }
        return quit
    }

    /// The plot band's height for a window `height` pixels tall (without the band).
    static func plotHeight(forWindowHeight height: Int) -> Int {
        min(320, max(140, height * 2 / 5))
    }

    /// Shows or hides the plot, growing the window by the band's height (or giving it back).
    private func togglePlot() {
        let size = window.window.size
        showPlot.toggle()
        if showPlot {
            plotHeight = LiveDisplay.plotHeight(forWindowHeight: size.height)
            window.window.resize(to: PixelSize(width: size.width, height: size.height + plotHeight))
        } else {
            window.window.resize(to: PixelSize(width: size.width, height: max(100, size.height - plotHeight)))
        }
    }

    /// Takes the encoder's newest results into the plot's history.
    private func collectResults(_ encoder: EncoderWorker) {
        let (results, total) = encoder.results(after: resultsSeen)
        resultsSeen = total
        for result in results { history.append(result) }
    }

    /// The overlay for the newest result.
    func overlay(runner: CaptureRunner, encoder: EncoderWorker, banner: String?) -> OverlayModel {
        let status = OverlayModel.Status(
            cameraFPS: runner.stats.fps, encoderFPS: encoder.stats.fps, droppedFrames: encoder.dropped,
            modelName: modelName + (randomWeights ? " (random)" : ""))
        var model = OverlayModel(status: status, randomWeights: randomWeights, banner: banner)
        guard let result = encoder.latest else { return model }
        if result.scores.map(\.prompt) != prompts {
            prompts = result.scores.map(\.prompt)
            if let index = view, index >= prompts.count { view = prompts.count == 1 ? 0 : nil }
        }
        let overlayRange = Float(range.low)...Float(range.high)
        let cosineThreshold = threshold.map { range.low + $0 / 100 * (range.high - range.low) }
        if let index = view ?? (prompts.count == 1 ? 0 : nil) {
            let score = result.scores[index]
            model.scores = .single(
                OverlayModel.SinglePrompt(
                    prompt: score.prompt, cosine: score.cosine, range: overlayRange, threshold: cosineThreshold))
        } else {
            let rows = result.scores.map {
                OverlayModel.PromptScore(prompt: $0.prompt, cosine: $0.cosine, probability: $0.probability)
            }
            model.scores = .multi(OverlayModel.MultiPrompt(rows: rows, range: overlayRange, threshold: cosineThreshold))
        }
        return model
    }

    @discardableResult
    private func draw(frame: Frame?, runner: CaptureRunner, encoder: EncoderWorker, banner: String?) throws
        -> OverlayLayout
    {
        let model = overlay(runner: runner, encoder: encoder, banner: banner)
        collectResults(encoder)
        let reserved = OverlayLayout.Reserved(plotHeight: showPlot ? plotHeight : 0)
        let layout: OverlayLayout
        if let frame {
            layout = try BGRPixels.withPixels(of: frame.bgr, width: frame.width, height: frame.height) { pixels in
                try window.draw(frame: pixels, overlay: model, reserved: reserved)
            }
        } else {
            layout = try window.draw(frame: nil, overlay: model, reserved: reserved)
        }
        if showPlot && !layout.plot.isEmpty {
            // In the single-prompt view only that prompt's line is drawn.
            var hidden = hiddenLines
            if let index = view, prompts.count > 1 { hidden.formUnion(prompts.indices.filter { $0 != index }) }
            try window.plot.draw(history.data(hidden: hidden, threshold: threshold), in: layout.plot)
        }
        return layout
    }

    /// Draws the last frame with the final overlay and the banner the window last showed, saves it as PNG at `path`
    /// and returns the overlay's main texts (the label or prompt and its score, the banner) for the log.
    func saveScreenshot(path: String, runner: CaptureRunner, encoder: EncoderWorker) throws -> String {
        let layout = try draw(frame: lastFrame, runner: runner, encoder: encoder, banner: lastBanner)
        let image: RGBImage
        do {
            image = try window.renderer.readPixels()
        } catch {
            throw PipelineError.screenshotFailed(path: path, reason: "\(error)")
        }
        window.present()
        var bgr = [UInt8](repeating: 0, count: image.width * image.height * 3)
        for i in stride(from: 0, to: bgr.count, by: 3) {
            bgr[i] = image.rgb[i + 2]
            bgr[i + 1] = image.rgb[i + 1]
            bgr[i + 2] = image.rgb[i]
        }
        // Written beside the target and renamed over it once complete: a failed write never leaves a half PNG.
        let target = SystemPath(path)
        let partial = SystemPath(
            bytes: target.bytes.dropLast(target.lastComponent.count) + Array(".".utf8) + target.lastComponent
                + Array(".partial-\(getpid())".utf8))
        do {
            // Checked again now, after the run: nothing but a regular file (or nothing) is replaced.
            try OutputPaths.checkReplaceable(path, option: "--screenshot")
            try ImageFile.writePNG(
                Frame(index: 0, timestamp: 0, width: image.width, height: image.height, bgr: bgr),
                to: try partial.openableName(role: "screenshot"))
            let moved = partial.withCString { old in target.withCString { rename(old, $0) } }
            guard moved == 0 else { throw SinkError.cannotCreate(path: target.description, errno: errno) }
        } catch {
            partial.withCString { _ = unlink($0) }
            throw PipelineError.screenshotFailed(path: path, reason: "\(error)")
        }
        let main = layout.texts.filter {
            switch $0.role {
            case .bestLabel, .prompt, .percent, .banner: return true
            default: return false
            }
        }
        return main.map { "\($0.role)=\"\($0.text)\"" }.joined(separator: " ")
    }
}
