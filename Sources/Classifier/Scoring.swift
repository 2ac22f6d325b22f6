// Similarity and labels as the reference computes them: cosine of L2-normalised embeddings
// (transformers `CLIPModel.forward`), multi-prompt probabilities as softmax(exp(logit_scale) · cosine),
// and the Roboflow demo's heuristic that maps a cosine of 0.15–0.40 to 0–100 %.
import CLIPModel
import Foundation
import ScoreScale

/// The cosine range that is stretched to 0–100 %. CLIP cosines between an image and a caption sit roughly
/// between 0.15 (unrelated) and 0.40 (a strong match), so the raw number is hard to read; the scaled one is not.
public struct ScoreRange: Sendable, Equatable, CustomStringConvertible {
    public var low: Float
    public var high: Float

    public static let heuristic = ScoreRange(low: 0.15, high: 0.40)

    public init(low: Float, high: Float) {
        precondition(high > low, "a score range needs high > low")
        self.low = low
        self.high = high
    }

    /// The cosine scaled to 0…100, clamped at both ends (`scaledPercent`, as the window shows it).
    public func percent(_ cosine: Float) -> Float { Float(scaledPercent(cosine: cosine, range: low...high)) }

    public var description: String { "\(low),\(high)" }
}

public enum Scoring {
    /// `v / |v|`; a zero vector stays zero (the model's own normalisation).
    public static func l2Normalized(_ v: [Float]) -> [Float] { CLIPModel.l2Normalized(v) }

    /// Dot product; the cosine when both vectors are L2-normalised.
    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "embedding sizes differ: \(a.count) and \(b.count)")
        var sum: Double = 0
        for i in a.indices { sum += Double(a[i]) * Double(b[i]) }
        return Float(sum)
    }

    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        dot(l2Normalized(a), l2Normalized(b))
    }

    /// softmax(scale · cosines), computed stably; `logitScale` is the model's raw `logit_scale` weight
    /// (its exponential, ≈ 100 for OpenAI's weights, multiplies the cosines).
    public static func probabilities(cosines: [Float], logitScale: Float) -> [Float] {
        guard !cosines.isEmpty else { return [] }
        let scale = Double(logitScale).exponential
        let logits = cosines.map { Double($0) * scale }
        let top = logits.max()!
        let exps = logits.map { ($0 - top).exponential }
        let total = exps.reduce(0, +)
        return exps.map { Float($0 / total) }
    }
}

extension Double {
    fileprivate var exponential: Double { Foundation.exp(self) }
}
