import Classifier
import Synchronization

/// The sampled frames' embeddings (unit length) in time order, filled by the background encoder and read by the
/// window. Kept in memory for now; the embedding cache of the `Investigator` work will take this place.
public final class FrameTimeline: Sendable {
    private struct State {
        var times: [Double] = []
        /// `times.count` embeddings of `dimension` floats, one after another.
        var embeddings: [Float] = []
        var dimension = 0
        var finished = false
        var error: String?
    }
    private let state = Mutex(State())
    /// Frames the encoder will sample (an estimate from the duration), for the progress.
    public let expectedFrames: Int

    public init(expectedFrames: Int) {
        self.expectedFrames = max(1, expectedFrames)
    }

    /// Adds a sampled frame's embedding (normalised here).
    public func append(time: Double, embedding: [Float]) {
        let unit = Scoring.l2Normalized(embedding)
        state.withLock { state in
            if state.dimension == 0 { state.dimension = unit.count }
            precondition(unit.count == state.dimension, "embeddings of one timeline have one size")
            state.times.append(time)
            state.embeddings += unit
        }
    }

    /// The encoder has sampled every frame (or failed, with `error`).
    public func finish(error: String? = nil) {
        state.withLock {
            $0.finished = true
            $0.error = error
        }
    }

    public var count: Int { state.withLock { $0.times.count } }
    public var isFinished: Bool { state.withLock { $0.finished } }
    public var error: String? { state.withLock { $0.error } }

    /// Cosines of frames `from…` with each of `prompts` (unit vectors), and those frames' times.
    public func cosines(from start: Int, prompts: [[Float]]) -> (times: [Double], cosines: [[Float]]) {
        state.withLock { state in
            let end = state.times.count
            guard start < end else { return ([], prompts.map { _ in [] }) }
            let d = state.dimension
            let result = state.embeddings.withUnsafeBufferPointer { all in
                prompts.map { prompt in
                    (start..<end).map { frame in
                        var sum: Float = 0
                        let base = frame * d
                        for k in 0..<min(d, prompt.count) { sum += all[base + k] * prompt[k] }
                        return sum
                    }
                }
            }
            return (Array(state.times[start..<end]), result)
        }
    }
}
