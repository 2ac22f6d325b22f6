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
    /// How long an error stays on screen before the window closes.
    static let errorLinger = 3.0

    init(
        size: PixelSize, fontPath: String?, modelName: String, randomWeights: Bool, prompts: [String],
        threshold: Float?, range: ScoreRange
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
        do {
            window = try DisplayWindow(title: "clipcam", size: size, fonts: fonts, videoDriver: onlyX11 ? "x11" : nil)
        } catch let error as SDLError where onlyX11 {
            guard case .callFailed = error else { throw error }
            throw PipelineError.noDisplay(
                driver: nil,
                reason: "SDL cannot open the X display \(display): \(SDLError.currentMessage()); Wayland is out of "
                    + "reach too, $XDG_RUNTIME_DIR being unset")
        }
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
                case .resized:
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
        guard let frame else { return try window.draw(frame: nil, overlay: model) }
        return try BGRPixels.withPixels(of: frame.bgr, width: frame.width, height: frame.height) { pixels in
            try window.draw(frame: pixels, overlay: model)
        }
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
