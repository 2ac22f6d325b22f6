// CLIP's pre-norm transformer encoder (transformers 5.23 modeling_clip.py CLIPEncoder / CLIPEncoderLayer /
// CLIPAttention / CLIPMLP): x += out_proj(attention(LN1(x))); x += fc2(act(fc1(LN2(x)))). Deviations, all
// rounding-level: q, k and v are one product with their weights stacked (q's scaled by d^-½) and packed at load;
// bias, residual add and activation are applied as each block of a product is stored. When the caller needs one
// row of the output only (the class token of an image, the end token of a text), the last block computes keys
// and values for every token but queries, output projection and MLP for that row alone: the other rows' final
// states are never read, so the pooled output is unchanged.

/// The arithmetic of the blocks' matrix products.
public enum Precision: String, Sendable, CaseIterable {
    /// 32-bit floats throughout (the reference's own precision).
    case fp32
    /// Weights per output channel and activations per token as 16-bit integers of about 11 bits and a sign,
    /// integer dot products (QuantizedGEMM.swift). Called `int8` until the 8-bit path came.
    case int16
    /// Weights per output channel as signed bytes, activations per token as unsigned bytes with a zero point,
    /// integer dot products (QuantizedBytes.swift), attention's products too (QuantizedAttention.swift); the patch
    /// embedding as in int16.
    case int8
}

/// A block's linear layer in the form its precision runs.
enum BlockLinear {
    case float(PackedLinear)
    case int16(QuantizedLinear)
    case int8(ByteLinear)

    /// `floatKernel`: the kernel of an fp32 layer; `kernel`: the integer kernel of an int8 layer.
    init(
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int, inputs: Int, precision: Precision,
        floatKernel: FloatKernel, kernel: QuantizedKernel
    ) {
        switch precision {
        case .fp32:
            self = .float(
                PackedLinear(weight: weight, bias: bias, outputs: outputs, inputs: inputs, kernel: floatKernel))
        case .int16:
            self = .int16(QuantizedLinear(weight: weight, bias: bias, outputs: outputs, inputs: inputs, kernel: kernel))
        case .int8:
            self = .int8(ByteLinear(weight: weight, bias: bias, outputs: outputs, inputs: inputs, kernel: kernel))
        }
    }

    init(_ weights: LinearWeights, precision: Precision, floatKernel: FloatKernel, kernel: QuantizedKernel) {
        self.init(
            weight: weights.weight.pointer, bias: weights.bias?.pointer, outputs: weights.weight.shape[0],
            inputs: weights.weight.shape[1], precision: precision, floatKernel: floatKernel, kernel: kernel)
    }

    var inputs: Int {
        switch self {
        case .float(let linear): linear.inputs
        case .int16(let linear): linear.inputs
        case .int8(let linear): linear.inputs
        }
    }

    var outputs: Int {
        switch self {
        case .float(let linear): linear.outputs
        case .int16(let linear): linear.outputs
        case .int8(let linear): linear.outputs
        }
    }

    var panels: Int {
        switch self {
        case .float(let linear): linear.weight.panels
        case .int16(let linear): linear.panels
        case .int8(let linear): linear.panels
        }
    }

    /// Outputs per panel.
    var panelWidth: Int {
        switch self {
        case .float(let linear): linear.weight.width
        case .int16: QuantizedLinear.width
        case .int8(let linear): linear.panelWidth
        }
    }
}

/// One block in its run-time form.
struct TransformerLayer {
    let layerNorm1: LayerNormWeights  // [W]
    let qkv: BlockLinear  // [3W, W]: the rows of q_proj (scaled by d^-½), then k_proj, then v_proj
    let outProj: BlockLinear  // [W, W]
    let layerNorm2: LayerNormWeights  // [W]
    let fc1: BlockLinear  // [I, W]
    let fc2: BlockLinear  // [W, I]

    init(
        _ weights: EncoderLayerWeights, heads: Int, precision: Precision, floatKernel: FloatKernel,
        kernel: QuantizedKernel
    ) {
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
        qkv = BlockLinear(
            weight: stackedWeight, bias: stackedBias, outputs: 3 * width, inputs: width, precision: precision,
            floatKernel: floatKernel, kernel: kernel)
        outProj = BlockLinear(weights.outProj, precision: precision, floatKernel: floatKernel, kernel: kernel)
        layerNorm2 = weights.layerNorm2
        fc1 = BlockLinear(weights.fc1, precision: precision, floatKernel: floatKernel, kernel: kernel)
        fc2 = BlockLinear(weights.fc2, precision: precision, floatKernel: floatKernel, kernel: kernel)
    }
}

/// A stack of blocks with its activation buffers, sized once for `maxTokens`. The residual stream lives in
/// `hidden`; callers fill its first rows, call `run`, and read the result back from `hidden`. `maxInputs`: the
/// longest input of any other integer product the caller runs through `product` (the patch embedding's, which is
/// 16-bit in both integer precisions). `floatKernel` runs the fp32 products and attention, `kernel` the integer
/// products.
final class TransformerStack {
    let layers: [TransformerLayer]
    let width: Int
    let heads: Int
    let intermediate: Int
    let activation: Activation
    let eps: Float
    let maxTokens: Int
    let pool: WorkerPool
    let floatKernel: FloatKernel

    let hidden: Buffer  // [maxTokens × W]
    let normed: Buffer  // [maxTokens × W]
    private let qkv: Buffer  // [maxTokens × 3W]
    private let context: Buffer  // [maxTokens × W]
    private let mlp: Buffer  // [maxTokens × I]
    private let quantized: QuantizedRows?  // [maxTokens × I] 16-bit values, for int16 products
    let bytes: ByteRows?  // [maxTokens × I] 8-bit values, for int8 products
    private let productTask = ProductTask()
    private let layerNormTask = LayerNormTask()
    private let attention: AttentionTask
    private let byteAttention: ByteAttentionTask?  // int8's attention, in place of `attention`

    init(
        layers: [EncoderLayerWeights], width: Int, heads: Int, intermediate: Int, activation: Activation,
        eps: Float, maxTokens: Int, pool: WorkerPool, precision: Precision = .fp32, floatKernel: FloatKernel,
        kernel: QuantizedKernel = .preferred, maxInputs: Int = 0
    ) {
        self.layers = layers.map {
            TransformerLayer($0, heads: heads, precision: precision, floatKernel: floatKernel, kernel: kernel)
        }
        self.floatKernel = floatKernel
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
        attention = AttentionTask(
            scratch: (0..<pool.threads).map { _ in
                AttentionScratch(headDim: width / heads, maxTokens: maxTokens, kernel: floatKernel)
            })
        quantized =
            precision == .fp32
            ? nil
            : QuantizedRows(
                rows: maxTokens, inputs: precision == .int16 ? max(width, intermediate, maxInputs) : maxInputs)
        bytes =
            precision == .int8 ? ByteRows(rows: maxTokens, inputs: max(width, intermediate), kernel: kernel) : nil
        byteAttention =
            precision == .int8
            ? ByteAttentionTask(
                scratch: (0..<pool.threads).map { _ in
                    ByteAttentionScratch(headDim: width / heads, maxTokens: maxTokens, kernel: kernel)
                }) : nil
    }

    /// y = x · Wᵀ (+ bias, + y, activation) for `rows` rows of x (`lda` floats apart) over `panels` of a block's
    /// linear layer (all by default), the panels claimed by the workers in turn. y's rows are `outputs` apart.
    func product(
        _ x: UnsafePointer<Float>, rows: Int, lda: Int? = nil, _ linear: BlockLinear,
        into y: UnsafeMutablePointer<Float>, panels: Range<Int>? = nil, accumulate: Bool = false,
        activation: Activation? = nil
    ) {
        let output = ProductOutput(pointer: y, stride: linear.outputs, accumulate: accumulate, activation: activation)
        let lda = lda ?? linear.inputs
        switch linear {
        case .float: break
        case .int16: quantized!.quantize(x, rows: rows, inputs: linear.inputs, lda: lda)
        case .int8: bytes!.quantize(x, rows: rows, inputs: linear.inputs, lda: lda, pool: pool)
        }
        productTask.set(
            x, rows: rows, lda: lda, linear, panels: panels ?? 0..<linear.panels, output: output,
            quantized: quantized, bytes: bytes, pool: pool)
        pool.run(productTask)
        productTask.clear()
    }

    /// LayerNorm of `rows` rows of `width` values (in place when `y` is `x`), the rows shared among the workers in
    /// chunks. Measured on the 2-core Zen 5 (family 26 model 2), ViT-B/16 at 2 threads: the 25 LayerNorms of an
    /// image took 1.9 ms on the calling thread alone (0.86 ms in a 1-thread run) and 0.5 ms shared.
    func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, _ weights: LayerNormWeights, into y: UnsafeMutablePointer<Float>
    ) {
        guard pool.threads > 1, rows >= 2 * LayerNormTask.chunk else {
            Kernels.layerNorm(
                x, rows: rows, width: width, weight: weights.weight.pointer, bias: weights.bias.pointer, eps: eps,
                into: y)
            return
        }
        layerNormTask.set(x, rows: rows, width: width, weights, eps: eps, into: y, pool: pool)
        pool.run(layerNormTask)
        layerNormTask.clear()
    }

    /// `product` for a float layer outside the blocks (the projection).
    func product(
        _ x: UnsafePointer<Float>, rows: Int, _ linear: PackedLinear, into y: UnsafeMutablePointer<Float>
    ) {
        product(x, rows: rows, .float(linear), into: y)
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
            layerNorm(x, rows: tokens, layer.layerNorm1, for: layer.qkv)
            clock?.mark(.layerNorm)
            if rows.count == tokens || width % layer.qkv.panelWidth != 0 {
                product(normed.pointer, rows: tokens, layer.qkv, into: qkv.pointer)
            } else {
                // Keys and values for every token, the query for the kept row only.
                let queryPanels = width / layer.qkv.panelWidth
                product(
                    normed.pointer, rows: tokens, layer.qkv, into: qkv.pointer,
                    panels: queryPanels..<layer.qkv.panels)
                product(
                    normed.pointer + first * width, rows: 1, layer.qkv, into: qkv.pointer + first * 3 * width,
                    panels: 0..<queryPanels)
            }
            clock?.mark(.qkv)
            if let byteAttention {
                byteAttention.perform(
                    qkv: qkv.pointer, tokens: tokens, width: width, heads: heads, causal: causal, queries: rows,
                    context: context.pointer, pool: pool)
            } else {
                attention.perform(
                    qkv: qkv.pointer, tokens: tokens, width: width, heads: heads, causal: causal, queries: rows,
                    context: context.pointer, pool: pool)
            }
            clock?.mark(.attention)
            product(
                context.pointer + first * width, rows: rows.count, layer.outProj, into: x + first * width,
                accumulate: true)
            clock?.mark(.outProjection)

            layerNorm(x + first * width, rows: rows.count, layer.layerNorm2, for: layer.fc1)
            clock?.mark(.layerNorm)
            product(normed.pointer, rows: rows.count, layer.fc1, into: mlp.pointer, activation: activation)
            product(mlp.pointer, rows: rows.count, layer.fc2, into: x + first * width, accumulate: true)
            clock?.mark(.mlp)
        }
    }
}

/// One product as a pool job, made once per stack: `set` gives its operands, every worker then claims panels in
/// turn and multiplies them.
final class ProductTask: PoolTask {
    private var x: UnsafePointer<Float>?
    private var rows = 0
    private var lda = 0
    private var linear: BlockLinear?
    private var panels = 0..<0
    private var output = ProductOutput(pointer: UnsafeMutablePointer(bitPattern: 64)!, stride: 0)
    private unowned(unsafe) var quantized: QuantizedRows?
    private unowned(unsafe) var bytes: ByteRows?
    private unowned(unsafe) var pool: WorkerPool?

    func set(
        _ x: UnsafePointer<Float>, rows: Int, lda: Int, _ linear: BlockLinear, panels: Range<Int>,
        output: ProductOutput, quantized: QuantizedRows?, bytes: ByteRows?, pool: WorkerPool
    ) {
        self.x = x
        self.rows = rows
        self.lda = lda
        self.linear = linear
        self.panels = panels
        self.output = output
        self.quantized = quantized
        self.bytes = bytes
        self.pool = pool
    }

    func clear() {
        linear = nil
        pool = nil
        quantized = nil
        bytes = nil
    }

    func run(worker: Int) {
        guard let x, let linear, let pool else { return }
        while let claimed = pool.claim(panels.count, worker: worker) {
            let share = (panels.lowerBound + claimed.lowerBound)..<(panels.lowerBound + claimed.upperBound)
            switch linear {
            case .float(let packed):
                PackedGEMM.multiply(
                    x, rows: rows, lda: lda, packed.weight, bias: packed.bias, panels: share, output: output)
            case .int16(let weights):
                QuantizedGEMM.multiply(quantized!, rows: rows, weights, panels: share, output: output)
            case .int8(let weights):
                ByteGEMM.multiply(bytes!, rows: rows, weights, panels: share, output: output)
            }
        }
    }
}

/// A LayerNorm as a pool job, made once per stack: the rows are claimed in chunks by the workers in turn.
final class LayerNormTask: PoolTask {
    /// Rows per claim.
    static let chunk = 8
    private var x: UnsafePointer<Float>?
    private var y: UnsafeMutablePointer<Float>?
    private var rows = 0
    private var width = 0
    private var weight: UnsafePointer<Float>?
    private var bias: UnsafePointer<Float>?
    private var eps: Float = 0
    private unowned(unsafe) var pool: WorkerPool?

    func set(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, _ weights: LayerNormWeights, eps: Float,
        into y: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        self.x = x
        self.y = y
        self.rows = rows
        self.width = width
        weight = weights.weight.pointer
        bias = weights.bias.pointer
        self.eps = eps
        self.pool = pool
    }

    func clear() { pool = nil }

    func run(worker: Int) {
        guard let x, let y, let weight, let bias, let pool else { return }
        let chunks = (rows + Self.chunk - 1) / Self.chunk
        while let claimed = pool.claim(chunks, worker: worker) {
            let first = claimed.lowerBound * Self.chunk
            let count = min(Self.chunk, rows - first)
            Kernels.layerNorm(
                x + first * width, rows: count, width: width, weight: weight, bias: bias, eps: eps,
                into: y + first * width)
        }
    }
}
