// CLIP's two towers (transformers 5.23 modeling_clip.py CLIPVisionEmbeddings + CLIPVisionTransformer,
// CLIPTextEmbeddings + CLIPTextTransformer, and the projections of CLIPModel.get_image_features /
// get_text_features). Deviations: the patch convolution is one product over im2col'd patches; the text tower
// runs only the prefix up to the pooled token (exact, since attention is causal); both towers finish only the
// pooled row in their last block (see Transformer.swift) and normalise only that row.

/// Image → projected embedding.
final class VisionEncoder {
    let config: VisionConfig
    private let weights: VisionWeights
    private let patchEmbedding: BlockLinear  // [W, 3·P·P], in the blocks' precision (int16 for int8)
    private let projection: PackedLinear  // [D, W]
    private let stack: TransformerStack
    private let patches: Buffer  // [grid² × 3·P·P], one patch per row in (channel, y, x) order
    private let pooled: Buffer  // [W]

    init(
        weights: VisionWeights, projection: FloatTensor, config: VisionConfig, pool: WorkerPool, precision: Precision,
        floatKernel: FloatKernel, kernel: QuantizedKernel
    ) {
        self.config = config
        self.weights = weights
        let patchLength = config.numChannels * config.patchSize * config.patchSize
        // 16-bit in both integer precisions: 3 · patch² inputs can be too many for exact 8-bit sums.
        patchEmbedding = BlockLinear(
            weight: weights.patchEmbedding.pointer, bias: nil, outputs: config.hiddenSize, inputs: patchLength,
            precision: precision == .int8 ? .int16 : precision, floatKernel: floatKernel, kernel: kernel)
        self.projection = PackedLinear(
            weight: projection.pointer, bias: nil, outputs: projection.shape[0], inputs: projection.shape[1],
            kernel: floatKernel)
        stack = TransformerStack(
            layers: weights.layers, width: config.hiddenSize, heads: config.numAttentionHeads,
            intermediate: config.intermediateSize, activation: config.hiddenAct, eps: config.layerNormEps,
            maxTokens: config.tokenCount, pool: pool, precision: precision, floatKernel: floatKernel,
            kernel: kernel, maxInputs: patchLength)
        let patchSize = config.patchSize
        patches = Buffer(config.gridSize * config.gridSize * config.numChannels * patchSize * patchSize)
        pooled = Buffer(config.hiddenSize)
    }

    /// `pixels`: channels × S × S, normalised. Writes D floats to `embedding`.
    func encode(pixels: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>, clock: StageClock? = nil) {
        clock?.start()
        let size = config.imageSize
        let patch = config.patchSize
        let grid = config.gridSize
        let channels = config.numChannels
        let width = config.hiddenSize
        let patchLength = channels * patch * patch

        var row = patches.pointer
        for gridY in 0..<grid {
            for gridX in 0..<grid {
                for channel in 0..<channels {
                    for y in 0..<patch {
                        let source = pixels + channel * size * size + (gridY * patch + y) * size + gridX * patch
                        row.update(from: source, count: patch)
                        row += patch
                    }
                }
            }
        }

        let hidden = stack.hidden.pointer
        hidden.update(from: weights.classEmbedding.pointer, count: width)
        precondition(patchEmbedding.inputs == patchLength)
        stack.product(patches.pointer, rows: grid * grid, patchEmbedding, into: hidden + width)
        let tokens = config.tokenCount
        let position = weights.positionEmbedding.pointer
        for i in 0..<(tokens * width) { hidden[i] += position[i] }
        clock?.mark(.patchEmbedding)
        stack.layerNorm(hidden, rows: tokens, weights.preLayerNorm, into: hidden)
        clock?.mark(.layerNorm)

        stack.run(tokens: tokens, causal: false, onlyRow: 0, clock: clock)

        Kernels.layerNorm(
            hidden, rows: 1, width: width, weight: weights.postLayerNorm.weight.pointer,
            bias: weights.postLayerNorm.bias.pointer, eps: config.layerNormEps, into: pooled.pointer)
        clock?.mark(.layerNorm)
        stack.product(pooled.pointer, rows: 1, projection, into: embedding)
        clock?.mark(.projection)
    }
}

/// Token ids → projected embedding.
final class TextEncoder {
    let config: TextConfig
    private let weights: TextWeights
    private let projection: PackedLinear  // [D, W]
    private let stack: TransformerStack
    private let pooled: Buffer  // [W]

    init(
        weights: TextWeights, projection: FloatTensor, config: TextConfig, pool: WorkerPool, floatKernel: FloatKernel
    ) {
        self.config = config
        self.weights = weights
        self.projection = PackedLinear(
            weight: projection.pointer, bias: nil, outputs: projection.shape[0], inputs: projection.shape[1],
            kernel: floatKernel)
        stack = TransformerStack(
            layers: weights.layers, width: config.hiddenSize, heads: config.numAttentionHeads,
            intermediate: config.intermediateSize, activation: config.hiddenAct, eps: config.layerNormEps,
            maxTokens: config.maxPositionEmbeddings, pool: pool, floatKernel: floatKernel)
        pooled = Buffer(config.hiddenSize)
    }

    /// The position whose final state is the text's summary: the largest id under the legacy rule
    /// (`eos_token_id == 2`), otherwise the first `eos_token_id`; the first such position when several tie, and 0
    /// when there is no end token (as torch's argmax gives).
    static func pooledPosition(_ ids: [Int32], config: TextConfig) -> Int {
        if config.poolsAtLargestID {
            var best = 0
            for (index, id) in ids.enumerated() where id > ids[best] { best = index }
            return best
        }
        return ids.firstIndex(of: Int32(truncatingIfNeeded: config.eosTokenID)) ?? 0
    }

    func encode(ids: [Int32], into embedding: UnsafeMutablePointer<Float>) {
        let width = config.hiddenSize
        precondition(!ids.isEmpty, "encodeText needs at least one token id")
        precondition(
            ids.count <= config.maxPositionEmbeddings,
            "encodeText got \(ids.count) ids; the model's context is \(config.maxPositionEmbeddings)")
        for id in ids {
            precondition(
                id >= 0 && Int(id) < config.vocabSize,
                "token id \(id) outside the model's vocabulary of \(config.vocabSize); the tokenizer's "
                    + "vocab.json does not belong to this model")
        }
        let pooledIndex = Self.pooledPosition(ids, config: config)
        let tokens = pooledIndex + 1

        let hidden = stack.hidden.pointer
        let tokenTable = weights.tokenEmbedding.pointer
        let positionTable = weights.positionEmbedding.pointer
        for position in 0..<tokens {
            let row = hidden + position * width
            let token = tokenTable + Int(ids[position]) * width
            let place = positionTable + position * width
            for i in 0..<width { row[i] = token[i] + place[i] }
        }

        stack.run(tokens: tokens, causal: true, onlyRow: pooledIndex)

        Kernels.layerNorm(
            hidden + pooledIndex * width, rows: 1, width: width,
            weight: weights.finalLayerNorm.weight.pointer, bias: weights.finalLayerNorm.bias.pointer,
            eps: config.layerNormEps, into: pooled.pointer)
        stack.product(pooled.pointer, rows: 1, projection, into: embedding)
    }
}
