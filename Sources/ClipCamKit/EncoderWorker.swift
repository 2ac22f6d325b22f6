import Capture
import Classifier
import Foundation
import Synchronization

/// What the encoder thread has done so far.
public struct EncoderStats: Sendable, Equatable {
    /// Frames encoded and scored.
    public var encoded = 0
    /// Frames scored with the last encoded frame's embedding because they looked the same.
    public var reused = 0
    /// Rate of results (encoded or reused) over the last ones (up to 10), frames per second; 0 before two results.
    public var fps = 0.0
    /// False once the thread has ended.
    public var running = true
}

/// The thread that owns the CLIP model: takes the newest frame from its queue, encodes and scores it against the
/// prompt embeddings (computed once, again only when the prompts change), writes the result to every sink and
/// keeps it as the latest result for the display.
///
/// With a reuse threshold, a frame whose `FrameSignature` differs from the last encoded frame's by less than the
/// threshold is not encoded: that frame's embedding is scored again and the result says `reused`. A still scene
/// thus gets a result per captured frame at the cost of a thumbnail each.
///
/// It ends when its queue ends (the capture ended or was stopped), or when a sink fails; then it closes the queue
/// so that the capture thread stops feeding it.
public final class EncoderWorker: Sendable {
    private let queue: LatestFrameQueue
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        var latest: FrameResult?
        /// The newest results, oldest first, at most `historyLimit`; `published` counts every result so far.
        var history: [FrameResult] = []
        var published = 0
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
        /// The last encoded frame's signature and embedding.
        var lastEncoded: (signature: FrameSignature, embedding: [Float])?
        init(engine: ClipEngine, scorer: PromptScorer, sinks: [any ResultSink]) {
            self.engine = engine
            self.scorer = scorer
            self.sinks = sinks
        }
    }

    /// Embeds `prompts` on the calling thread, then hands the engine and sinks to a new encoder thread that
    /// reads `queue`. Neither may be used by the caller afterwards. `reuseThreshold` is the signature difference
    /// (grey levels) below which a frame reuses the last embedding; nil encodes every frame.
    /// Returns nil, having finished the sinks, when `isCancelled` turns true while the prompts are embedded (a
    /// long prompt file takes a while; Ctrl-C must not wait for it).
    public static func start(
        engine: sending ClipEngine, prompts: [String], range: ScoreRange, threshold: Float?, smooth: Int,
        reuseThreshold: Double? = nil, queue: LatestFrameQueue, sinks: sending [any ResultSink],
        log: @escaping @Sendable (String) -> Void, isCancelled: () -> Bool = { false }
    ) -> EncoderWorker? {
        precondition(reuseThreshold.map { $0 >= 0 } ?? true, "the reuse threshold is a difference, not negative")
        guard let embedded = embed(prompts, engine: engine, log: log, isCancelled: isCancelled) else {
            for sink in sinks { try? sink.finish() }
            return nil
        }
        let scorer = PromptScorer(
            prompts: embedded, range: range, threshold: threshold, smooth: smooth, logitScale: engine.logitScale)
        let worker = EncoderWorker(queue: queue, reuseThreshold: reuseThreshold)
        let owned = Owned(engine: engine, scorer: scorer, sinks: sinks)
        let thread = Thread { worker.run(owned, log: log) }
        thread.name = "clipcam encoder"
        thread.start()
        return worker
    }

    private let reuseThreshold: Double?

    private init(queue: LatestFrameQueue, reuseThreshold: Double?) {
        self.queue = queue
        self.reuseThreshold = reuseThreshold
    }

    /// Embeds `prompts` in order; nil when `isCancelled` turns true first. Prompts cut to CLIP's context are
    /// reported in one warning, not one each.
    private static func embed(
        _ prompts: [String], engine: ClipEngine, log: (String) -> Void, isCancelled: () -> Bool = { false }
    ) -> [PromptEmbedding]? {
        var embedded: [PromptEmbedding] = []
        var truncated: [String] = []
        for text in prompts {
            if isCancelled() { return nil }
            let prompt = engine.embedPrompt(text)
            if prompt.truncated { truncated.append(text) }
            embedded.append(prompt)
        }
        if let first = truncated.first {
            log(ClipEngine.truncationWarning(first, count: truncated.count))
        }
        return embedded
    }

    private func run(_ owned: Owned, log: @Sendable (String) -> Void) {
        var failure: (any Error)?
        while true {
            let (prompts, paused) = state.withLock { state in
                defer { state.pendingPrompts = nil }
                return (state.pendingPrompts, state.paused)
            }
            if let prompts {
                owned.scorer.replacePrompts(EncoderWorker.embed(prompts, engine: owned.engine, log: log) ?? [])
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
            let embedding: [Float]
            var reused = false
            if let reuseThreshold {
                let signature = FrameSignature(frame)
                if let last = owned.lastEncoded, signature.difference(last.signature) < reuseThreshold {
                    embedding = last.embedding
                    reused = true
                } else {
                    embedding = owned.engine.imageEmbedding(frame)
                    owned.lastEncoded = (signature, embedding)
                }
            } else {
                embedding = owned.engine.imageEmbedding(frame)
            }
            let (scores, best, flagged) = owned.scorer.score(imageEmbedding: embedding)
            let end = MonotonicClock.now()
            let result = FrameResult(
                frameIndex: frame.index, timestamp: frame.timestamp, scores: scores, best: best, flagged: flagged,
                reused: reused, encodeSeconds: end - start, dropped: queue.stats.dropped,
                residentKiB: residentMemoryKiB())
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
            if state.history.count >= EncoderWorker.historyLimit {
                state.history.removeFirst(state.history.count / 2)
            }
            state.history.append(result)
            state.published += 1
            if result.reused { state.stats.reused += 1 } else { state.stats.encoded += 1 }
            if state.times.count == 10 { state.times.removeFirst() }
            state.times.append(time)
            if let first = state.times.first, let last = state.times.last, last > first {
                state.stats.fps = Double(state.times.count - 1) / (last - first)
            }
        }
    }

    /// The newest result, or nil before the first frame is encoded.
    public var latest: FrameResult? { state.withLock { $0.latest } }

    /// Results kept for `results(after:)`: enough for a reader that looks a few times a second at any rate.
    public static let historyLimit = 4096

    /// The results published after the first `count` ones (those still kept), and the number published so far:
    /// pass that number next time to get only newer ones.
    public func results(after count: Int) -> (results: [FrameResult], total: Int) {
        state.withLock { state in
            let new = min(state.history.count, max(0, state.published - count))
            return (Array(state.history.suffix(new)), state.published)
        }
    }

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
