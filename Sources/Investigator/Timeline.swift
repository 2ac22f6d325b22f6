// A video's scores over time, per prompt, and the segments where a prompt's score stays at or above a threshold.
// This is what the analysis prints and what a plot strip draws.
import Classifier

/// A stretch of time where a prompt's (smoothed) score reaches the threshold.
///
/// `start` is the time of its first sampled frame; `end` is the time of its last one plus one sampling interval
/// (so a segment covers [start, end) and a scene 3 s to 5 s sampled at 1 frame/s is 3–5, not 3–4). `peakTime` and
/// `peakValue` are where the smoothed score is highest, in the timeline's unit (scaled % or, raw, cosine).
public struct Segment: Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var peakTime: Double
    public var peakValue: Float

    public init(start: Double, end: Double, peakTime: Double, peakValue: Float) {
        self.start = start
        self.end = end
        self.peakTime = peakTime
        self.peakValue = peakValue
    }

    public var length: Double { end - start }
}

/// The per-prompt scores of one video's sampled frames, as drawn and as segmented.
///
/// For the plot strip: x = `times` (seconds), one line per prompt (`labels[p]`, `values[p][i]` at `times[i]`),
/// a horizontal line at `threshold`, and `segments[p]` shaded. `values` are in the unit `isRaw` names (cosines
/// with `--raw`, else the cosine scaled from `range` to 0–100 %), smoothed (`smooth`); `cosines` keeps the
/// unsmoothed cosines.
public struct Timeline: Sendable {
    /// The video, as the user named it.
    public var file: String
    /// Seconds from the video's start, one per sampled frame, increasing.
    public var times: [Double]
    /// The source frame number of each sampled frame.
    public var frames: [Int]
    /// Seconds between sampled frames (the last frame's segment ends this long after it).
    public var interval: Double
    public var labels: [String]
    /// `[prompt][sample]`, unsmoothed.
    public var cosines: [[Float]]
    /// `[prompt][sample]`, smoothed cosines.
    public var smoothedCosines: [[Float]]
    /// `[prompt][sample]`, smoothed, in the display unit.
    public var values: [[Float]]
    public var isRaw: Bool
    public var range: ScoreRange
    /// In the display unit; nil: no segments.
    public var threshold: Float?
    /// Frames in the moving average (1: none).
    public var smooth: Int
    /// Shortest segment kept, seconds.
    public var minLength: Double
    /// `[prompt]`: the segments of each prompt, in time order.
    public var segments: [[Segment]]

    /// Scores `embeddings` (normalised, one per sampled frame) against `prompts` (normalised) and finds the
    /// segments.
    public init(
        file: String, embeddings: FrameEmbeddings, prompts: [(label: String, embedding: [Float])], range: ScoreRange,
        isRaw: Bool, threshold: Float?, smooth: Int, minLength: Double
    ) {
        self.file = file
        times = embeddings.times
        frames = embeddings.frames
        interval = embeddings.interval
        labels = prompts.map(\.label)
        cosines = prompts.map { embeddings.cosines(with: $0.embedding) }
        smoothedCosines = cosines.map { Timeline.centredAverage($0, window: smooth) }
        values = isRaw ? smoothedCosines : smoothedCosines.map { $0.map(range.percent) }
        self.isRaw = isRaw
        self.range = range
        self.threshold = threshold
        self.smooth = smooth
        self.minLength = minLength
        segments = values.map { row in
            threshold.map {
                Timeline.segments(
                    row, times: embeddings.times, interval: embeddings.interval, threshold: $0, minLength: minLength)
            } ?? []
        }
    }

    /// A timeline of values already in the display unit (for drawing code and its tests): `cosines` and
    /// `smoothedCosines` are `values` when `isRaw`, else empty per prompt.
    public init(
        file: String, times: [Double], interval: Double, labels: [String], values: [[Float]], isRaw: Bool,
        threshold: Float?, segments: [[Segment]], range: ScoreRange = .heuristic
    ) {
        precondition(values.count == labels.count && segments.count == labels.count, "one row per label")
        precondition(values.allSatisfy { $0.count == times.count }, "one value per time")
        self.file = file
        self.times = times
        frames = times.indices.map { $0 }
        self.interval = interval
        self.labels = labels
        cosines = isRaw ? values : labels.map { _ in [] }
        smoothedCosines = cosines
        self.values = values
        self.isRaw = isRaw
        self.range = range
        self.threshold = threshold
        smooth = 1
        minLength = 0
        self.segments = segments
    }

    /// Each prompt's segments as (start, end) seconds, for shading.
    public var segmentRanges: [[(start: Double, end: Double)]] {
        segments.map { $0.map { ($0.start, $0.end) } }
    }

    /// The scaled percent of a cosine under this timeline's range.
    public func percent(_ cosine: Float) -> Float { range.percent(cosine) }

    /// The mean of each value and its neighbours, `window` values in all (centred: (window-1)/2 before and the rest
    /// after; fewer at the ends). A window of 1 returns the values unchanged.
    public static func centredAverage(_ values: [Float], window: Int) -> [Float] {
        guard window > 1, !values.isEmpty else { return values }
        var prefix = [Double](repeating: 0, count: values.count + 1)
        for (i, v) in values.enumerated() { prefix[i + 1] = prefix[i] + Double(v) }
        let before = (window - 1) / 2
        let after = window - 1 - before
        return values.indices.map { i in
            let low = max(0, i - before)
            let high = min(values.count - 1, i + after)
            return Float((prefix[high + 1] - prefix[low]) / Double(high - low + 1))
        }
    }

    /// The runs of consecutive values at or above `threshold` lasting at least `minLength` seconds
    /// (see `Segment` for how start and end are measured).
    public static func segments(
        _ values: [Float], times: [Double], interval: Double, threshold: Float, minLength: Double
    ) -> [Segment] {
        precondition(values.count == times.count, "one time per value")
        var found: [Segment] = []
        var i = 0
        while i < values.count {
            guard values[i] >= threshold else {
                i += 1
                continue
            }
            var peak = i
            var j = i
            while j + 1 < values.count && values[j + 1] >= threshold {
                j += 1
                if values[j] > values[peak] { peak = j }
            }
            let segment = Segment(
                start: times[i], end: times[j] + interval, peakTime: times[peak], peakValue: values[peak])
            if segment.length >= minLength - 1e-9 { found.append(segment) }
            i = j + 1
        }
        return found
    }
}
