import Classifier

/// One prompt's score for one encoded frame.
public struct PromptScore: Sendable, Equatable {
    public var prompt: String
    /// Cosine between the frame and the prompt (averaged over the last `--smooth` frames).
    public var cosine: Float
    /// The cosine mapped from the score range to 0–100, clamped.
    public var percent: Float
    /// Softmax over all prompts of `exp(logit_scale) · cosine`; 1 for a single prompt.
    public var probability: Float
}

/// What the encoder made of one frame: it goes to the display and to every sink.
public struct FrameResult: Sendable, Equatable {
    /// Index of the frame in its source.
    public var frameIndex: Int
    /// The frame's timestamp in seconds since the source started.
    public var timestamp: Double
    /// One score per prompt, in prompt order.
    public var scores: [PromptScore]
    /// Index of the most probable prompt (the first of equals).
    public var best: Int
    /// The best score reaches the threshold (`--threshold`, in scaled percent); false without a threshold.
    public var flagged: Bool
    /// The frame looked like the last encoded one (see `FrameSignature`), so that frame's embedding was scored
    /// again instead of encoding this one.
    public var reused: Bool
    /// Seconds spent on the frame: its signature, preprocessing and encoding (unless reused), scoring.
    public var encodeSeconds: Double
    /// Frames the encoder never saw because newer ones replaced them in its queue, so far.
    public var dropped: Int
    /// Resident memory of the process after the frame, in KiB (0 where unknown).
    public var residentKiB: Int

    /// The best prompt's text.
    public var label: String { scores[best].prompt }
}

/// Turns an image embedding into per-prompt scores: prompt embeddings are fixed until replaced, cosines are
/// smoothed over the last frames, probabilities are CLIP's softmax.
public struct PromptScorer: Sendable {
    public private(set) var prompts: [PromptEmbedding]
    public let range: ScoreRange
    /// Scaled percent at or above which a frame is flagged.
    public let threshold: Float?
    public let logitScale: Float
    private var smoothing: MovingAverage

    public init(prompts: [PromptEmbedding], range: ScoreRange, threshold: Float?, smooth: Int, logitScale: Float) {
        precondition(!prompts.isEmpty, "scoring needs at least one prompt")
        self.prompts = prompts
        self.range = range
        self.threshold = threshold
        self.logitScale = logitScale
        smoothing = MovingAverage(window: smooth)
    }

    /// Replaces the prompts; the smoothing starts again.
    public mutating func replacePrompts(_ prompts: [PromptEmbedding]) {
        precondition(!prompts.isEmpty, "scoring needs at least one prompt")
        self.prompts = prompts
        smoothing.reset()
    }

    /// Scores an image embedding (normalised here) and returns the scores and the best index.
    public mutating func score(imageEmbedding: [Float]) -> (scores: [PromptScore], best: Int, flagged: Bool) {
        let image = Scoring.l2Normalized(imageEmbedding)
        let cosines = smoothing.push(prompts.map { Scoring.dot(image, $0.embedding) })
        let probabilities = Scoring.probabilities(cosines: cosines, logitScale: logitScale)
        var best = 0
        for i in probabilities.indices where probabilities[i] > probabilities[best] { best = i }
        let scores = prompts.indices.map { i in
            PromptScore(
                prompt: prompts[i].text, cosine: cosines[i], percent: range.percent(cosines[i]),
                probability: probabilities[i])
        }
        let flagged = threshold.map { scores[best].percent >= $0 } ?? false
        return (scores, best, flagged)
    }
}
