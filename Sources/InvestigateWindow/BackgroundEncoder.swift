import Capture
import ClipCamKit
import Foundation
import Synchronization

/// The thread that owns the CLIP model while a video is investigated: it decodes the file from the start as fast
/// as it can (its own ffmpeg, apart from the window's), encodes every `every`-th frame into the timeline, and
/// between frames (and after the last) embeds the prompts the window asks for. It ends with `stop()`.
public final class BackgroundEncoder: Sendable {
    private struct State {
        var requests: [String] = []
        var embedded: [PromptEmbedding] = []
        var stopped = false
        /// Frames encoded so far (a test counts them).
        var encodedFrames = 0
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    public let timeline: FrameTimeline

    /// Moves the engine to the encoder thread; the caller must not use it afterwards.
    private final class Owned: @unchecked Sendable {
        let engine: ClipEngine
        init(_ engine: ClipEngine) { self.engine = engine }
    }

    /// Starts encoding `path` into `timeline`, one frame in `every`.
    public init(engine: sending ClipEngine, path: String, every: Int, timeline: FrameTimeline) {
        precondition(every >= 1, "every frame or fewer")
        self.timeline = timeline
        let owned = Owned(engine)
        let thread = Thread { [self] in run(owned.engine, path: path, every: every) }
        thread.name = "clipcam investigate encoder"
        thread.start()
    }

    /// Frames encoded so far.
    public var encodedFrames: Int { state.withLock { $0.encodedFrames } }

    /// Asks for `text` to be embedded; the result comes from `takeEmbedded()`.
    public func embed(_ text: String) {
        state.withLock { $0.requests.append(text) }
        wake.signal()
    }

    /// The prompts embedded since the last call.
    public func takeEmbedded() -> [PromptEmbedding] {
        state.withLock { state in
            defer { state.embedded.removeAll() }
            return state.embedded
        }
    }

    /// Ends the thread (its ffmpeg is killed) and waits for it.
    public func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
        done.wait()
        done.signal()
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func answerRequests(_ engine: ClipEngine) {
        let requests = state.withLock { state in
            defer { state.requests.removeAll() }
            return state.requests
        }
        for text in requests {
            let prompt = engine.embedPrompt(text)
            state.withLock { $0.embedded.append(prompt) }
        }
    }

    private func run(_ engine: ClipEngine, path: String, every: Int) {
        defer { done.signal() }
        let source = VideoFileSource(path: path, options: CaptureOptions(fast: true))
        var failure: String?
        do {
            try source.start()
            while !isStopped {
                answerRequests(engine)
                guard let frame = try source.nextFrame() else { break }
                if frame.index % every != 0 { continue }
                let embedding = engine.imageEmbedding(frame)
                timeline.append(time: frame.timestamp, embedding: embedding)
                state.withLock { $0.encodedFrames += 1 }
            }
        } catch {
            failure = "\(error)"
        }
        source.stop()
        timeline.finish(error: failure)
        // Prompts typed after the last frame still need their text encoded.
        while !isStopped {
            answerRequests(engine)
            _ = wake.wait(timeout: .now() + 0.5)
        }
    }
}
