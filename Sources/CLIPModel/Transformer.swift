// CLIP's pre-norm transformer encoder (transformers 5.23 modeling_clip.py CLIPEncoder / CLIPEncoderLayer /
// CLIPAttention / CLIPMLP): x += out_proj(attention(LN1(x))); x += fc2(act(fc1(LN2(x)))). Deviations, all
// rounding-level: q, k and v are one product with their weights stacked (q's scaled by d^-½) and packed at load;
// bias, residual add and activation are applied as each block of a product is stored. When the caller needs one
// row of the output only (the class token of an image, the end token of a text), the last block computes keys
// and values for every token but queries, output projection and MLP for that row alone: the other rows' final
// states are never read, so the pooled output is unchanged.

/// One block in its run-time form.
struct TransformerLayer {
    let layerNorm1: LayerNormWeights  // [W]
    let qkv: PackedLinear  // [3W, W]: the rows of q_proj (scaled by d^-½), then k_proj, then v_proj
    let outProj: PackedLinear  // [W, W]
    let layerNorm2: LayerNormWeights  // [W]
    let fc1: PackedLinear  // [I, W]
    let fc2: PackedLinear  // [W, I]

    init(_ weights: EncoderLayerWeights, heads: Int) {
        let width = weights.qProj.weight.shape[0]
        let scale = 1 / Float(width / heads).squareRoot()
        let stackedWeight = UnsafeMutablePointer<Float>.allocate(capacity: 3 * width * width)
        let stackedBias = UnsafeMutablePointer<Float>.allocate(capacity: 3 * width)
        defer {
            stackedWeight.deallocate()
            stackedBias.deallocate()
        }
        for (index, part) in [weights.qProj, weights.kProj, weights.vProj].enumerated() {
            let factor: Float = index == 0 ? scale : 1
            let weight = stackedWeight + index * width * width
            for i in 0..<(width * width) { weight[i] = part.weight.pointer[i] * factor }
            for i in 0..<width { stackedBias[index * width + i] = (part.bias?.pointer[i] ?? 0) * factor }
        }
        layerNorm1 = weights.layerNorm1
        qkv = PackedLinear(weight: stackedWeight, bias: stackedBias, outputs: 3 * width, inputs: width)
        outProj = PackedLinear(weights.outProj)
        layerNorm2 = weights.layerNorm2
        fc1 = PackedLinear(weights.fc1)
        fc2 = PackedLinear(weights.fc2)
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
    let pool: WorkerPool

    let hidden: Buffer  // [maxTokens × W]
    private let normed: Buffer  // [maxTokens × W]
    private let qkv: Buffer  // [maxTokens × 3W]
    private let context: Buffer  // [maxTokens × W]
    private let mlp: Buffer  // [maxTokens × I]
    private let scratch: [AttentionScratch]  // one per worker

    init(
        layers: [EncoderLayerWeights], width: Int, heads: Int, intermediate: Int, activation: Activation,
        eps: Float, maxTokens: Int, pool: WorkerPool
    ) {
        self.layers = layers.map { TransformerLayer($0, heads: heads) }
        self.width = width
        self.heads = heads
        self.intermediate = intermediate
        self.activation = activation
        self.eps = eps
        self.maxTokens = maxTokens
        self.pool = pool
        hidden = Buffer(maxTokens * width)
        normed = Buffer(maxTokens * width)
        qkv = Buffer(maxTokens * 3 * width)
        context = Buffer(maxTokens * width)
        mlp = Buffer(maxTokens * intermediate)
        scratch = (0..<pool.threads).map { _ in AttentionScratch(headDim: width / heads, maxTokens: maxTokens) }
    }

    /// y = x · Wᵀ (+ bias, + y, activation) for `rows` rows, the panels shared out among the workers.
    func product(
        _ x: UnsafePointer<Float>, rows: Int, _ linear: PackedLinear, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool = false, activation: Activation? = nil
    ) {
        let output = ProductOutput(
            pointer: y, stride: linear.outputs, accumulate: accumulate, activation: activation)
        pool.run { worker in
            PackedGEMM.multiply(
                x, rows: rows, lda: linear.inputs, linear.weight, bias: linear.bias,
                panels: pool.share(of: linear.weight.panels, worker: worker), output: output)
        }
    }

    /// Runs every block over the first `tokens` rows of `hidden`, in place. With `onlyRow`, the last block
    /// finishes that row alone and the other rows of `hidden` are left stale.
    func run(tokens: Int, causal: Bool, onlyRow: Int? = nil, clock: StageClock? = nil) {
        precondition(tokens >= 1 && tokens <= maxTokens, "token count \(tokens) outside 1...\(maxTokens)")
        let x = hidden.pointer
        for (index, layer) in layers.enumerated() {
            let rows: Range<Int>
            if let onlyRow, index == layers.count - 1 { rows = onlyRow..<(onlyRow + 1) } else { rows = 0..<tokens }
            let first = rows.lowerBound
            Kernels.layerNorm(
                x, rows: tokens, width: width, weight: layer.layerNorm1.weight.pointer,
                bias: layer.layerNorm1.bias.pointer, eps: eps, into: normed.pointer)
            clock?.mark(.layerNorm)
            if rows.count == tokens || width % PackedPanels.width != 0 {
                product(normed.pointer, rows: tokens, layer.qkv, into: qkv.pointer)
            } else {
                // Keys and values for every token, the query for the kept row only.
                let qkvOut = ProductOutput(pointer: qkv.pointer, stride: 3 * width)
                let queryPanels = width / PackedPanels.width
                let keyValuePanels = queryPanels..<layer.qkv.weight.panels
                let rowOut = ProductOutput(pointer: qkv.pointer + first * 3 * width, stride: 3 * width)
                pool.run { worker in
                    let share = pool.share(of: keyValuePanels.count, worker: worker)
                    PackedGEMM.multiply(
                        normed.pointer, rows: tokens, lda: width, layer.qkv.weight, bias: layer.qkv.bias,
                        panels: (queryPanels + share.lowerBound)..<(queryPanels + share.upperBound), output: qkvOut)
                    PackedGEMM.multiply(
                        normed.pointer + first * width, rows: 1, lda: width, layer.qkv.weight,
                        bias: layer.qkv.bias, panels: pool.share(of: queryPanels, worker: worker), output: rowOut)
                }
            }
            Attention.run(
                qkv: qkv.pointer, tokens: tokens, width: width, heads: heads, causal: causal, queries: rows,
                context: context.pointer, scratch: scratch, pool: pool)
            product(
                context.pointer + first * width, rows: rows.count, layer.outProj, into: x + first * width,
                accumulate: true)
            clock?.mark(.attention)

            Kernels.layerNorm(
                x + first * width, rows: rows.count, width: width, weight: layer.layerNorm2.weight.pointer,
                bias: layer.layerNorm2.bias.pointer, eps: eps, into: normed.pointer)
            clock?.mark(.layerNorm)
            product(normed.pointer, rows: rows.count, layer.fc1, into: mlp.pointer, activation: activation)
            product(mlp.pointer, rows: rows.count, layer.fc2, into: x + first * width, accumulate: true)
            clock?.mark(.mlp)
        }
    }
}
