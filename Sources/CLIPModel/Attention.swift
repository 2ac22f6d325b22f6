// Multi-head self-attention (transformers 5.23 modeling_clip.py CLIPAttention with eager_attention_forward):
// softmax(Q·Kᵀ · d^-½ + mask) · V per head. The two products of each head go through the packed kernel: K and V
// of the head are packed into scratch panels, then scores = Q·Kᵀ and context = P·V. Heads are shared out among
// the pool's workers, each with its own scratch. Deviation: the d^-½ scaling is folded into the query weights at
// load (PackedAttentionWeights); for head sizes that are powers of four (64 in every CLIP) it is exact.

/// One worker's scratch for one head at a time.
final class AttentionScratch {
    let keys: PackedPanels  // depth headDim, outputs tokens
    let values: PackedPanels  // depth tokens, outputs headDim
    let scores: Buffer  // [maxTokens × maxTokens]
    let maxTokens: Int

    init(headDim: Int, maxTokens: Int) {
        keys = PackedPanels(depth: headDim, outputs: maxTokens)
        values = PackedPanels(depth: maxTokens, outputs: headDim)
        scores = Buffer(maxTokens * maxTokens)
        self.maxTokens = maxTokens
    }
}

enum Attention {
    /// `qkv` is [tokens × 3·width]: the (already scaled) queries, the keys and the values of each token side by
    /// side. Writes the context of query rows `queries` to the same rows of `context` [tokens × width]. With
    /// `causal`, token i attends to tokens 0...i only.
    static func run(
        qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int, causal: Bool, queries: Range<Int>,
        context: UnsafeMutablePointer<Float>, scratch: [AttentionScratch], pool: WorkerPool
    ) {
        let headDim = width / heads
        let stride = 3 * width
        pool.run { worker in
            let own = scratch[worker]
            own.keys.reshape(depth: headDim, outputs: tokens)
            own.values.reshape(depth: tokens, outputs: headDim)
            let scores = own.scores.pointer
            let scoreStride = own.maxTokens
            for head in pool.share(of: heads, worker: worker) {
                own.keys.packRows(qkv + width + head * headDim, rowStride: stride, outputs: 0..<tokens)
                own.values.packColumns(qkv + 2 * width + head * headDim, rowStride: stride)
                PackedGEMM.multiply(
                    qkv + queries.lowerBound * stride + head * headDim, rows: queries.count, lda: stride, own.keys,
                    bias: nil, panels: 0..<own.keys.panels,
                    output: ProductOutput(pointer: scores, stride: scoreStride))
                for (row, query) in queries.enumerated() {
                    let rowScores = scores + row * scoreStride
                    let visible = causal ? query + 1 : tokens
                    Kernels.softmax(rowScores, count: visible)
                    if visible < tokens { (rowScores + visible).update(repeating: 0, count: tokens - visible) }
                }
                PackedGEMM.multiply(
                    scores, rows: queries.count, lda: scoreStride, own.values, bias: nil,
                    panels: 0..<own.values.panels,
                    output: ProductOutput(
                        pointer: context + queries.lowerBound * width + head * headDim, stride: width))
            }
        }
    }
}
