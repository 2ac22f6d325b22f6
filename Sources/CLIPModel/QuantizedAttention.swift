// Multi-head self-attention of `--precision int8` (transformers 5.23 modeling_clip.py CLIPAttention, as
// Attention.swift): softmax(Q·Kᵀ · d^-½) · V per head, both products in the 8-bit scheme of QuantizedBytes.swift.
// For each head: K is quantised as a layer's weights (one scale per key token over the head's channels), V as
// weights with one scale per head channel over the tokens, Q per row (query) as any activation. The softmax and
// the quantisation of P are one step: u_k = round(255 · exp(s_k − max)) with the row's scale 1 / (255 · Σ exp)
// and zero point 0, so the normalisation is in the scale. Each worker quantises its heads into its own scratch;
// on the VNNI kernel, K, V and P are quantised with AVX-512 (ByteKernels.packRows, packColumns, softmaxBytes), to
// the same integers as the plain Swift code of the other kernels.
//
// Why: with the linear layers in 8 bits, attention with float products was about 40 % of a ViT-B/16 encoding
// (197 tokens) at one thread; in 8 bits it takes 12–18 ms less per encoding (CPU time, medians of two runs each,
// `clipcam bench`, on a 2-core AMD EPYC, Zen 5, family 26 model 2, while the host was busy). Error
// (scripts/quantization_error.py: smallest cosine of the image embeddings to fp32 over 15 varied images, the linear
// layers in 8 bits in both cases): random ViT-B/32 0.99975 with 8-bit attention against 0.99974 with float
// attention, random ViT-B/16 0.99980 against 0.99981; the fixture models, whose attention is very sharp, 0.9976
// against 0.9981 (tiny-gelu-f16) and 0.9980 against 0.9984 (tiny-quickgelu-f32).

/// One worker's scratch for one head at a time.
final class ByteAttentionScratch {
    let keys: ByteLinear  // outputs: tokens, inputs: head channels
    let values: ByteLinear  // outputs: head channels, inputs: tokens
    let queries: ByteRows  // [tokens × head channels]
    let probabilities: ByteRows  // [tokens × tokens]
    let scores: Buffer  // [maxTokens × maxTokens]
    let maxTokens: Int

    init(headDim: Int, maxTokens: Int, kernel: QuantizedKernel) {
        keys = ByteLinear(outputs: maxTokens, inputs: headDim, kernel: kernel, reusable: true)
        values = ByteLinear(outputs: headDim, inputs: maxTokens, kernel: kernel, reusable: true)
        queries = ByteRows(rows: maxTokens, inputs: headDim, kernel: kernel)
        probabilities = ByteRows(rows: maxTokens, inputs: maxTokens, kernel: kernel)
        scores = Buffer(maxTokens * maxTokens)
        self.maxTokens = maxTokens
    }
}

/// 8-bit attention as a pool job, made once per transformer stack; the same inputs and outputs as AttentionTask.
final class ByteAttentionTask: AttentionJob {
    let scratch: [ByteAttentionScratch]  // one per worker

    init(scratch: [ByteAttentionScratch]) {
        self.scratch = scratch
        super.init(workers: scratch.count)
    }

    override func run(worker: Int) {
        guard let qkv, let context, let pool else { return }
        let headDim = width / heads
        let stride = 3 * width
        let own = scratch[worker]
        let scores = own.scores.pointer
        let scoreStride = own.maxTokens
        while let claimed = pool.claim(heads, worker: worker) {
            for head in claimed {
                own.keys.quantizeRows(
                    qkv + width + head * headDim, rowStride: stride, outputs: tokens, inputs: headDim)
                own.values.quantizeColumns(
                    qkv + 2 * width + head * headDim, rowStride: stride, outputs: headDim, inputs: tokens)
                own.queries.quantize(
                    qkv + queries.lowerBound * stride + head * headDim, rows: queries.count, inputs: headDim,
                    lda: stride)
                ByteGEMM.multiply(
                    own.queries, rows: queries.count, own.keys, panels: 0..<own.keys.panels,
                    output: ProductOutput(pointer: scores, stride: scoreStride))
                let first = queries.lowerBound
                own.probabilities.softmax(scores, rows: queries.count, count: tokens, lda: scoreStride) { row in
                    causal ? first + row + 1 : tokens
                }
                ByteGEMM.multiply(
                    own.probabilities, rows: queries.count, own.values, panels: 0..<own.values.panels,
                    output: ProductOutput(pointer: context + queries.lowerBound * width + head * headDim, stride: width)
                )
            }
        }
    }
}
