// Which frames of a video are looked at, and their embeddings.

/// Which frames of a video are encoded: every Nth decoded frame, or a fixed rate (ffmpeg's `fps` filter, which
/// keeps the frame nearest each tick). Part of the cache key.
public enum Sampling: Sendable, Equatable, CustomStringConvertible {
    case every(Int)
    case rate(Double)

    /// Every frame: what `analyze` does by default (analysis drops none).
    public static let allFrames = Sampling.every(1)

    /// "every=1", "fps=1": the spelling in cache keys and metadata.
    public var description: String {
        switch self {
        case .every(let n): return "every=\(n)"
        case .rate(let fps): return "fps=\(fps)"
        }
    }

    public init?(_ text: String) {
        if text.hasPrefix("every="), let n = Int(text.dropFirst(6)), n >= 1 {
            self = .every(n)
        } else if text.hasPrefix("fps="), let f = Double(text.dropFirst(4)), f > 0 {
            self = .rate(f)
        } else {
            return nil
        }
    }

    /// Seconds between sampled frames of a video of `fps` frames a second.
    public func interval(videoFPS fps: Double) -> Double {
        switch self {
        case .every(let n): return Double(n) / fps
        case .rate(let rate): return 1 / rate
        }
    }

    /// Time and source frame number of sampled frame `k`.
    public func sample(_ k: Int, videoFPS fps: Double) -> (time: Double, frame: Int) {
        switch self {
        case .every(let n): return (Double(k * n) / fps, k * n)
        case .rate(let rate):
            let time = Double(k) / rate
            return (time, Int((time * fps).rounded()))
        }
    }
}

/// The L2-normalised embeddings of a video's sampled frames, in time order, stored flat.
public struct FrameEmbeddings: Sendable {
    public var dimension: Int
    public var times: [Double]
    public var frames: [Int]
    /// Seconds between sampled frames.
    public var interval: Double
    /// `count × dimension` values.
    public var values: [Float]

    public init(dimension: Int, interval: Double, times: [Double] = [], frames: [Int] = [], values: [Float] = []) {
        precondition(values.count == times.count * dimension && frames.count == times.count)
        self.dimension = dimension
        self.interval = interval
        self.times = times
        self.frames = frames
        self.values = values
    }

    public var count: Int { times.count }

    public mutating func append(time: Double, frame: Int, embedding: [Float]) {
        precondition(embedding.count == dimension, "an embedding of \(embedding.count) values, not \(dimension)")
        times.append(time)
        frames.append(frame)
        values.append(contentsOf: embedding)
    }

    public func embedding(_ i: Int) -> ArraySlice<Float> {
        values[(i * dimension)..<((i + 1) * dimension)]
    }

    /// The cosine of each frame's embedding with `query` (normalised): one pass over the flat values.
    public func cosines(with query: [Float]) -> [Float] {
        precondition(query.count == dimension, "a query of \(query.count) values, not \(dimension)")
        var out = [Float](repeating: 0, count: count)
        values.withUnsafeBufferPointer { all in
            query.withUnsafeBufferPointer { q in
                for i in 0..<count {
                    let row = all.baseAddress! + i * dimension
                    var sum: Float = 0
                    for d in 0..<dimension { sum += row[d] * q[d] }
                    out[i] = sum
                }
            }
        }
        return out
    }
}
