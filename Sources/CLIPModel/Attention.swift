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

/// The operands of one attention as a pool job, made once per transformer stack: `perform` sets them and runs the
/// job on every worker, which claim heads in turn. The subclasses multiply: AttentionTask in fp32, ByteAttentionTask
/// in 8 bits.
class AttentionJob: PoolTask {
    /// Workers the subclass has scratch for.
    let workers: Int
    private(set) var qkv: UnsafePointer<Float>?
    private(set) var context: UnsafeMutablePointer<Float>?
    private(set) var tokens = 0
    private(set) var width = 0
    private(set) var heads = 0
    private(set) var causal = false
    private(set) var queries = 0..<0
    private(set) unowned(unsafe) var pool: WorkerPool?

    init(workers: Int) {
        self.workers = workers
    }

    /// `qkv` is [tokens × 3·width]: the (already scaled) queries, the keys and the values of each token side by
    /// side. Writes the context of query rows `queries` to the same rows of `context` [tokens × width]. With
    /// `causal`, token i attends to tokens 0...i only.
    final func perform(
        qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int, causal: Bool, queries: Range<Int>,
        context: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(workers >= pool.threads, "attention scratch for \(workers) of \(pool.threads) workers")
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

    /// The heads this worker claims; each subclass multiplies them its own way.
    func run(worker: Int) {
        preconditionFailure("AttentionJob.run: a subclass multiplies")
    }
}

/// fp32 attention: each head's K and V packed into the worker's scratch panels, through the fp32 kernel.
final class AttentionTask: AttentionJob {
    let scratch: [AttentionScratch]  // one per worker

    init(scratch: [AttentionScratch]) {
        self.scratch = scratch
        super.init(workers: scratch.count)
    }

    override func run(worker: Int) {
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
