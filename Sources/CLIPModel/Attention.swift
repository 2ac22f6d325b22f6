// Multi-head self-attention (transformers 5.23 modeling_clip.py CLIPAttention with eager_attention_forward):
// softmax(Q·Kᵀ · d^-½ + mask) · V per head. The two products of each head go through the packed kernel: K and V
// of the head are packed into scratch panels, then scores = Q·Kᵀ and context = P·V. Heads are claimed by the
// pool's workers in turn, each with its own scratch. Deviation: the d^-½ scaling is folded into the query weights at
// load (TransformerLayer); for head sizes that are powers of four (64 in every CLIP) it is exact.

/// One worker's scratch for one head at a time.
final class AttentionScratch {
    let keys: PackedPanels  // depth headDim, outputs tokens
    let values: PackedPanels  // depth tokens, outputs headDim
    let scores: Buffer  // [maxTokens × maxTokens]
    let maxTokens: Int

    init(headDim: Int, maxTokens: Int, kernel: FloatKernel) {
        keys = PackedPanels(depth: headDim, outputs: maxTokens, kernel: kernel)
        values = PackedPanels(depth: maxTokens, outputs: headDim, kernel: kernel)
        scores = Buffer(maxTokens * maxTokens)
        self.maxTokens = maxTokens
    }
}

/// Attention as a pool job, made once per transformer stack: `perform` sets the inputs and runs it on every
/// worker; heads are claimed by the workers in turn.
final class AttentionTask: PoolTask {
    let scratch: [AttentionScratch]  // one per worker
    private var qkv: UnsafePointer<Float>?
    private var context: UnsafeMutablePointer<Float>?
    private var tokens = 0
    private var width = 0
    private var heads = 0
    private var causal = false
    private var queries = 0..<0
    private unowned(unsafe) var pool: WorkerPool?

    init(scratch: [AttentionScratch]) {
        self.scratch = scratch
    }

    /// `qkv` is [tokens × 3·width]: the (already scaled) queries, the keys and the values of each token side by
    /// side. Writes the context of query rows `queries` to the same rows of `context` [tokens × width]. With
    /// `causal`, token i attends to tokens 0...i only.
    func perform(
        qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int, causal: Bool, queries: Range<Int>,
        context: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(scratch.count >= pool.threads, "attention scratch for \(scratch.count) of \(pool.threads) workers")
        self.qkv = qkv
        self.context = context
        self.tokens = tokens
        self.width = width
        self.heads = heads
        self.causal = causal
        self.queries = queries
        self.pool = pool
        pool.run(self)
        self.pool = nil
    }

    func run(worker: Int) {
        guard let qkv, let context, let pool else { return }
        let headDim = width / heads
        let stride = 3 * width
        let own = scratch[worker]
        own.keys.reshape(depth: headDim, outputs: tokens)
        own.values.reshape(depth: tokens, outputs: headDim)
        let scores = own.scores.pointer
        let scoreStride = own.maxTokens
        while let claimed = pool.claim(heads, worker: worker) {
            for head in claimed {
                own.keys.packRows(qkv + width + head * headDim, rowStride: stride, outputs: 0..<tokens)
                own.values.packColumns(qkv + 2 * width + head * headDim, rowStride: stride)
                PackedGEMM.multiply(
                    qkv + queries.lowerBound * stride + head * headDim, rows: queries.count, lda: stride, own.keys,
                    bias: nil, panels: 0..<own.keys.panels,
                    output: ProductOutput(pointer: scores, stride: scoreStride))
                for (row, query) in queries.enumerated() {
                    let rowScores = scores + row * scoreStride
                    let visible = causal ? query + 1 : tokens
                    Kernels.softmax(rowScores, count: visible, kernel: own.keys.kernel)
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
