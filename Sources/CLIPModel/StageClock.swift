// Where an encoding spends its time, for `clipcam bench`.
import Foundation

/// The parts of an image encoding that are timed apart.
public enum EncoderStage: String, CaseIterable, Sendable {
    /// Cutting the image into patches, their product with the patch weights, class and position embeddings.
    case patchEmbedding = "patch_embed"
    /// Every LayerNorm: pre, the two of each block, post.
    case layerNorm = "layernorm"
    /// The q/k/v product.
    case qkv
    /// The attention of every head: scores, softmax, context.
    case attention
    /// The attention's output projection (with the residual add).
    case outProjection = "out_proj"
    /// fc1 with its activation, and fc2.
    case mlp
    /// The final projection to the embedding.
    case projection
}

/// Seconds spent in each stage, summed over the encodings since the last `reset`.
final class StageClock {
    private(set) var seconds = [Double](repeating: 0, count: EncoderStage.allCases.count)
    private var last: UInt64 = 0

    func start() { last = DispatchTime.now().uptimeNanoseconds }

    /// Charges the time since the previous mark to `stage`.
    func mark(_ stage: EncoderStage) {
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[EncoderStage.allCases.firstIndex(of: stage)!] += Double(now - last) / 1e9
        last = now
    }

    func reset() { seconds = [Double](repeating: 0, count: EncoderStage.allCases.count) }

    var byStage: [EncoderStage: Double] {
        Dictionary(uniqueKeysWithValues: zip(EncoderStage.allCases, seconds))
    }
}
