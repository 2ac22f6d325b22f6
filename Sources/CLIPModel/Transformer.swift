// CLIP's pre-norm transformer encoder (transformers 5.23 modeling_clip.py CLIPEncoder / CLIPEncoderLayer /
// CLIPAttention / CLIPMLP): x += out_proj(attention(LN1(x))); x += fc2(act(fc1(LN2(x)))). Deviations: q, k and v
// are computed by one product with their weights stacked at load time, and residual adds are fused into the
// out_proj and fc2 products; both change rounding only.

/// One block in its run-time form.
struct TransformerLayer {
    let layerNorm1: LayerNormWeights  // [W]
    let qkvWeight: FloatTensor  // [3W, W]: the rows of q_proj, then k_proj, then v_proj
    let qkvBias: FloatTensor  // [3W]
    let outProj: LinearWeights  // [W, W], [W]
    let layerNorm2: LayerNormWeights  // [W]
    let fc1: LinearWeights  // [I, W], [I]
    let fc2: LinearWeights  // [W, I], [W]

    init(_ weights: EncoderLayerWeights, name: String) {
        let width = weights.qProj.weight.shape[0]
        let parts = [weights.qProj, weights.kProj, weights.vProj]
        let stackedWeight = FloatTensor(name: name + ".self_attn.qkv.weight", shape: [3 * width, width])
        let stackedBias = FloatTensor(name: name + ".self_attn.qkv.bias", shape: [3 * width])
        for (index, part) in parts.enumerated() {
            (stackedWeight.mutablePointer + index * width * width).update(
                from: part.weight.pointer,
                count: width * width)
            if let bias = part.bias {
                (stackedBias.mutablePointer + index * width).update(from: bias.pointer, count: width)
            }
        }
        layerNorm1 = weights.layerNorm1
        qkvWeight = stackedWeight
        qkvBias = stackedBias
        outProj = weights.outProj
        layerNorm2 = weights.layerNorm2
        fc1 = weights.fc1
        fc2 = weights.fc2
    }
}

/// A stack of blocks with its activation buffers, sized once for `maxTokens`. The residual stream lives in
/// `hidden`; callers fill its first rows, call `run`, and read the result back from `hidden`.
final class TransformerStack {
    let layers: [TransformerLayer]
    let width: Int
    let heads: Int
    let intermediate: Int
    let activation: Activation
    let eps: Float
    let maxTokens: Int

    let hidden: Buffer  // [maxTokens × W]
    private let normed: Buffer  // [maxTokens × W]
    private let qkv: Buffer  // [maxTokens × 3W]
    private let scores: Buffer  // [maxTokens × maxTokens], one head at a time
    private let context: Buffer  // [maxTokens × W]
    private let mlp: Buffer  // [maxTokens × I]

    init(
        layers: [EncoderLayerWeights], tower: String, width: Int, heads: Int, intermediate: Int,
        activation: Activation, eps: Float, maxTokens: Int
    ) {
        self.layers = layers.enumerated().map { index, layer in
            TransformerLayer(layer, name: TensorName.layer(tower, index))
        }
        self.width = width
        self.heads = heads
        self.intermediate = intermediate
        self.activation = activation
        self.eps = eps
        self.maxTokens = maxTokens
        hidden = Buffer(maxTokens * width)
        normed = Buffer(maxTokens * width)
        qkv = Buffer(maxTokens * 3 * width)
        scores = Buffer(maxTokens * maxTokens)
        context = Buffer(maxTokens * width)
        mlp = Buffer(maxTokens * intermediate)
    }

    /// Runs every block over the first `tokens` rows of `hidden`, in place.
    func run(tokens: Int, causal: Bool) {
        precondition(tokens >= 1 && tokens <= maxTokens, "token count \(tokens) outside 1...\(maxTokens)")
        let x = hidden.pointer
        for layer in layers {
            Kernels.layerNorm(
                x, rows: tokens, width: width, weight: layer.layerNorm1.weight.pointer,
                bias: layer.layerNorm1.bias.pointer, eps: eps, into: normed.pointer)
            Kernels.linear(
                normed.pointer, rows: tokens, inputs: width, weight: layer.qkvWeight.pointer,
                bias: layer.qkvBias.pointer, outputs: 3 * width, into: qkv.pointer)
            Kernels.attention(
                qkv: qkv.pointer, tokens: tokens, width: width, heads: heads, causal: causal,
                scores: scores.pointer, context: context.pointer)
            Kernels.linear(
                context.pointer, rows: tokens, inputs: width, weight: layer.outProj.weight.pointer,
                bias: layer.outProj.bias?.pointer, outputs: width, into: x, accumulate: true)

            Kernels.layerNorm(
                x, rows: tokens, width: width, weight: layer.layerNorm2.weight.pointer,
                bias: layer.layerNorm2.bias.pointer, eps: eps, into: normed.pointer)
            Kernels.linear(
                normed.pointer, rows: tokens, inputs: width, weight: layer.fc1.weight.pointer,
                bias: layer.fc1.bias?.pointer, outputs: intermediate, into: mlp.pointer)
            Kernels.activate(activation, mlp.pointer, count: tokens * intermediate)
            Kernels.linear(
                mlp.pointer, rows: tokens, inputs: intermediate, weight: layer.fc2.weight.pointer,
                bias: layer.fc2.bias?.pointer, outputs: width, into: x, accumulate: true)
        }
    }
}
