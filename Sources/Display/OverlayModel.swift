import ScoreScale

/// Everything the overlay shows on top of the video, as a plain value the pipeline fills in.
public struct OverlayModel: Equatable, Sendable {
    /// The cosine range mapped to 0–100 % unless the pipeline says otherwise.
    public static let defaultRange: ClosedRange<Float> = 0.15...0.40

    /// One prompt's score in single-prompt mode.
    public struct SinglePrompt: Equatable, Sendable {
        public var prompt: String
        /// Cosine similarity between the frame's and the prompt's embeddings.
        public var cosine: Float
        /// Cosines mapped to 0 % and 100 %.
        public var range: ClosedRange<Float>
        /// Cosine at or above which the score counts as a match and is highlighted; nil for no threshold.
        public var threshold: Float?

        public init(prompt: String, cosine: Float, range: ClosedRange<Float> = defaultRange, threshold: Float? = nil) {
            self.prompt = prompt
            self.cosine = cosine
            self.range = range
            self.threshold = threshold
        }

        public var percent: Double { scaledPercent(cosine: cosine, range: range) }
        public var passesThreshold: Bool { threshold.map { cosine >= $0 } ?? false }
    }

    /// One row of multi-prompt mode.
    public struct PromptScore: Equatable, Sendable {
        public var prompt: String
        public var cosine: Float
        /// Softmax probability over all prompts of `exp(logit_scale) · cosine`.
        public var probability: Float

        public init(prompt: String, cosine: Float, probability: Float) {
            self.prompt = prompt
            self.cosine = cosine
            self.probability = probability
        }
    }

    /// Scores of several prompts for one frame.
    public struct MultiPrompt: Equatable, Sendable {
        public var rows: [PromptScore]
        /// Cosines mapped to 0 % and 100 % for each row's bar.
        public var range: ClosedRange<Float>
        /// Cosine at or above which a row counts as a match: its bar carries a mark and its % is tinted.
        public var threshold: Float?

        public init(rows: [PromptScore], range: ClosedRange<Float> = defaultRange, threshold: Float? = nil) {
            self.rows = rows
            self.range = range
            self.threshold = threshold
        }

        /// Whether row `index` reaches the threshold.
        public func passesThreshold(_ index: Int) -> Bool { threshold.map { rows[index].cosine >= $0 } ?? false }

        /// Index of the most probable row (the first of equals); nil when there are no rows.
        public var bestIndex: Int? {
            rows.indices.max { a, b in
                let (pa, pb) = (rows[a].probability, rows[b].probability)
                return pa < pb || (pa == pb && a > b)
            }
        }
    }

    public enum Scores: Equatable, Sendable {
        /// No score yet (model loading, no frame encoded).
        case none
        case single(SinglePrompt)
        case multi(MultiPrompt)
    }

    /// Rates and identity shown in the status line.
    public struct Status: Equatable, Sendable {
        public var cameraFPS: Double?
        public var encoderFPS: Double?
        public var droppedFrames: Int
        public var modelName: String
        /// A status line of the caller's own instead of the rates (e.g. a video's position and progress).
        public var line: String?

        public init(
            cameraFPS: Double? = nil, encoderFPS: Double? = nil, droppedFrames: Int = 0, modelName: String,
            line: String? = nil
        ) {
            self.cameraFPS = cameraFPS
            self.encoderFPS = encoderFPS
            self.droppedFrames = droppedFrames
            self.modelName = modelName
            self.line = line
        }

        /// "camera 30.0 fps · encoder 9.8 fps · dropped 12 · ViT-B/32"
        public var text: String {
            if let line { return line }
            func rate(_ value: Double?) -> String {
                guard let value, value.isFinite else { return "–" }
                return formatFixed(value, digits: 1)
            }
            return "camera \(rate(cameraFPS)) fps · encoder \(rate(encoderFPS)) fps · dropped \(droppedFrames)"
                + " · \(modelName)"
        }
    }

    public var scores: Scores
    public var status: Status
    /// The model runs with random weights: a red warning says its scores mean nothing.
    public var randomWeights: Bool
    /// A message shown in the middle of the window ("paused", "camera unplugged", the prompt being typed).
    public var banner: String?

    public init(scores: Scores = .none, status: Status, randomWeights: Bool = false, banner: String? = nil) {
        self.scores = scores
        self.status = status
        self.randomWeights = randomWeights
        self.banner = banner
    }

    public static let randomWeightsWarning = "random weights — scores are meaningless"
}

/// `value` with exactly `digits` decimals, e.g. 0.2834 → "0.28" for 2 digits.
func formatFixed(_ value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    var fraction = String(Int(scaled) - whole * Int(scale))
    while fraction.count < digits { fraction = "0" + fraction }
    let sign = value < 0 && scaled != 0 ? "-" : ""
    return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
}
