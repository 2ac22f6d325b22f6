import Capture
import Classifier
import Foundation
import Synchronization

/// What the encoder thread has done so far.
public struct EncoderStats: Sendable, Equatable {
    /// Frames encoded and scored.
    public var encoded = 0
    /// Encoding rate over the last results (up to 10), frames per second; 0 before two results.
    public var fps = 0.0
    /// False once the thread has ended.
    public var running = true
}

/// The thread that owns the CLIP model: takes the newest frame from its queue, encodes and scores it against the
/// prompt embeddings (computed once, again only when the prompts change), writes the result to every sink and
/// keeps it as the latest result for the display.
///
/// It ends when its queue ends (the capture ended or was stopped), or when a sink fails; then it closes the queue
/// so that the capture thread stops feeding it.
public final class EncoderWorker: Sendable {
    private let queue: LatestFrameQueue
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        var latest: FrameResult?
        var stats = EncoderStats()
        var times: [Double] = []
        var pendingPrompts: [String]?
        var paused = false
        var sinkError: (any Error)?
    }

    /// Owns the engine and sinks while they cross to the encoder thread; only that thread touches them afterwards.
    private final class Owned: @unchecked Sendable {
        let engine: ClipEngine
        var scorer: PromptScorer
        let sinks: [any ResultSink]
        init(engine: ClipEngine, scorer: PromptScorer, sinks: [any ResultSink]) {
            self.engine = engine
            self.scorer = scorer
            self.sinks = sinks
        }
    }

    /// Embeds `prompts` on the calling thread, then hands the engine and sinks to a new encoder thread that
    /// reads `queue`. Neither may be used by the caller afterwards.
    public static func start(
        engine: sending ClipEngine, prompts: [String], range: ScoreRange, threshold: Float?, smooth: Int,
        queue: LatestFrameQueue, sinks: sending [any ResultSink], log: @escaping @Sendable (String) -> Void
    ) -> EncoderWorker {
        let scorer = PromptScorer(
            prompts: embed(prompts, engine: engine, log: log), range: range, threshold: threshold, smooth: smooth,
            logitScale: engine.logitScale)
        let worker = EncoderWorker(queue: queue)
        let owned = Owned(engine: engine, scorer: scorer, sinks: sinks)
        let thread = Thread { worker.run(owned, log: log) }
        thread.name = "clipcam encoder"
        thread.start()
        return worker
    }

    private init(queue: LatestFrameQueue) {
        self.queue = queue
    }

    private static func embed(_ prompts: [String], engine: ClipEngine, log: (String) -> Void) -> [PromptEmbedding] {
        prompts.map { text in
            let prompt = engine.embedPrompt(text)
            if prompt.truncated {
                log("warning: the prompt \"\(text)\" is longer than CLIP's 77 tokens; only its start is used")
            }
            return prompt
        }
    }

    private func run(_ owned: Owned, log: @Sendable (String) -> Void) {
        var failure: (any Error)?
        while true {
            let (prompts, paused) = state.withLock { state in
                defer { state.pendingPrompts = nil }
                return (state.pendingPrompts, state.paused)
            }
            if let prompts {
                owned.scorer.replacePrompts(EncoderWorker.embed(prompts, engine: owned.engine, log: log))
            }
            let frame: Frame
            do {
                guard let next = try queue.pop() else { break }
                frame = next
            } catch {
                // The capture's error; the pipeline reports it from the capture runner.
                break
            }
            if paused { continue }
            let start = MonotonicClock.now()
            let embedding = owned.engine.imageEmbedding(frame)
            let (scores, best, flagged) = owned.scorer.score(imageEmbedding: embedding)
            let end = MonotonicClock.now()
            let result = FrameResult(
                frameIndex: frame.index, timestamp: frame.timestamp, scores: scores, best: best, flagged: flagged,
                encodeSeconds: end - start, dropped: queue.stats.dropped, residentKiB: residentMemoryKiB())
            do {
                for sink in owned.sinks { try sink.write(result) }
            } catch {
                failure = error
                break
            }
            publish(result, at: end)
        }
        for sink in owned.sinks {
            do { try sink.finish() } catch { failure = failure ?? error }
        }
        queue.close()
        state.withLock {
            $0.sinkError = failure
            $0.stats.running = false
        }
        done.signal()
    }

    private func publish(_ result: FrameResult, at time: Double) {
        state.withLock { state in
            state.latest = result
            state.stats.encoded += 1
            if state.times.count == 10 { state.times.removeFirst() }
            state.times.append(time)
            if let first = state.times.first, let last = state.times.last, last > first {
                state.stats.fps = Double(state.times.count - 1) / (last - first)
            }
        }
    }

    /// The newest result, or nil before the first frame is encoded.
    public var latest: FrameResult? { state.withLock { $0.latest } }

    public var stats: EncoderStats { state.withLock { $0.stats } }

    /// Frames dropped unseen from the encoder's queue so far.
    public var dropped: Int { queue.stats.dropped }

    /// The error of a sink that failed, once the thread has ended.
    public var error: (any Error)? { state.withLock { $0.sinkError } }

    /// Replaces the prompts; they are embedded before the next frame is encoded.
    public func setPrompts(_ prompts: [String]) {
        precondition(!prompts.isEmpty, "the encoder needs at least one prompt")
        state.withLock { $0.pendingPrompts = prompts }
    }

    /// While paused, frames are taken from the queue and discarded unencoded.
    public var paused: Bool {
        get { state.withLock { $0.paused } }
        set { state.withLock { $0.paused = newValue } }
    }

    /// Waits for the thread to end.
    public func wait() {
        done.wait()
        done.signal()
    }

    /// True once the thread has ended.
    public var isFinished: Bool { !stats.running }
}
