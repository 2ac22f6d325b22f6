// The tensors of a Hugging Face CLIPModel checkpoint (transformers 5.23 models/clip/modeling_clip.py: CLIPModel,
// CLIPTextModel, CLIPVisionModel, CLIPEncoderLayer), their expected shapes from the configuration, and the
// verified loading of a safetensors file into structs that mirror the checkpoint. `logit_scale` may be stored
// with shape [] or [1]; the non-persistent `*.embeddings.position_ids` buffers are accepted and ignored.

/// Every tensor name of a CLIP checkpoint, in one place.
enum TensorName {
    static let text = "text_model"
    static let vision = "vision_model"

    static let tokenEmbedding = "text_model.embeddings.token_embedding.weight"
    static let textPositionEmbedding = "text_model.embeddings.position_embedding.weight"
    static let finalLayerNorm = "text_model.final_layer_norm"
    static let classEmbedding = "vision_model.embeddings.class_embedding"
    static let patchEmbedding = "vision_model.embeddings.patch_embedding.weight"
    static let visionPositionEmbedding = "vision_model.embeddings.position_embedding.weight"
    static let preLayerNorm = "vision_model.pre_layrnorm"
    static let postLayerNorm = "vision_model.post_layernorm"
    static let textProjection = "text_projection.weight"
    static let visualProjection = "visual_projection.weight"
    static let logitScale = "logit_scale"
    /// Buffers some checkpoints carry (I64 position indices); not weights.
    static let ignoredPositionIDs: Set = ["text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"]

    static func layer(_ tower: String, _ index: Int) -> String { "\(tower).encoder.layers.\(index)" }

    /// The layer indices of `tower` that tensor names mention (`<tower>.encoder.layers.<index>.…`), sorted and
    /// without repeats; an index with a sign, leading zeros or more than 6 digits is left out (and its tensors
    /// later count as unexpected).
    static func layerIndices(_ tower: String, in names: some Sequence<String>) -> [Int] {
        let prefix = tower + ".encoder.layers."
        var indices = Set<Int>()
        for name in names where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count).prefix { $0 != "." }
            guard (1...6).contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
                digits == "0" || !digits.hasPrefix("0"), let index = Int(digits)
            else { continue }
            indices.insert(index)
        }
        return indices.sorted()
    }
    static let qProj = "self_attn.q_proj"
    static let kProj = "self_attn.k_proj"
    static let vProj = "self_attn.v_proj"
    static let outProj = "self_attn.out_proj"
    static let layerNorm1 = "layer_norm1"
    static let fc1 = "mlp.fc1"
    static let fc2 = "mlp.fc2"
    static let layerNorm2 = "layer_norm2"

    /// Every weight the configuration calls for, with its shape, in checkpoint order.
    static func expectedShapes(_ config: CLIPConfiguration) -> [(name: String, shape: [Int])] {
        var table: [(name: String, shape: [Int])] = []
        func layers(_ tower: String, count: Int, width: Int, intermediate: Int) {
            for index in 0..<count {
                let prefix = layer(tower, index) + "."
                for projection in [qProj, kProj, vProj, outProj] {
                    table.append((prefix + projection + ".weight", [width, width]))
                    table.append((prefix + projection + ".bias", [width]))
                }
                for norm in [layerNorm1, layerNorm2] {
                    table.append((prefix + norm + ".weight", [width]))
                    table.append((prefix + norm + ".bias", [width]))
                }
                table.append((prefix + fc1 + ".weight", [intermediate, width]))
                table.append((prefix + fc1 + ".bias", [intermediate]))
                table.append((prefix + fc2 + ".weight", [width, intermediate]))
                table.append((prefix + fc2 + ".bias", [width]))
            }
        }
        let text = config.text
        table.append((tokenEmbedding, [text.vocabSize, text.hiddenSize]))
        table.append((textPositionEmbedding, [text.maxPositionEmbeddings, text.hiddenSize]))
        layers(Self.text, count: text.numHiddenLayers, width: text.hiddenSize, intermediate: text.intermediateSize)
        table.append((finalLayerNorm + ".weight", [text.hiddenSize]))
        table.append((finalLayerNorm + ".bias", [text.hiddenSize]))

        let vision = config.vision
        table.append((classEmbedding, [vision.hiddenSize]))
        table.append((patchEmbedding, [vision.hiddenSize, vision.numChannels, vision.patchSize, vision.patchSize]))
        table.append((visionPositionEmbedding, [vision.tokenCount, vision.hiddenSize]))
        table.append((preLayerNorm + ".weight", [vision.hiddenSize]))
        table.append((preLayerNorm + ".bias", [vision.hiddenSize]))
        layers(
            Self.vision, count: vision.numHiddenLayers, width: vision.hiddenSize,
            intermediate: vision.intermediateSize)
        table.append((postLayerNorm + ".weight", [vision.hiddenSize]))
        table.append((postLayerNorm + ".bias", [vision.hiddenSize]))

        table.append((visualProjection, [config.projectionDim, vision.hiddenSize]))
        table.append((textProjection, [config.projectionDim, text.hiddenSize]))
        table.append((logitScale, []))
        return table
    }
}

/// What can be wrong with a checkpoint measured against its configuration; each case names file and tensor.
public enum CLIPWeightsError: Error, CustomStringConvertible, Equatable {
    case missingTensor(file: String, tensor: String)
    case unexpectedTensor(file: String, tensor: String)
    /// `assumption`: why some of the sizes behind `expected` are defaults (`CLIPConfiguration.assumption`).
    case wrongShape(file: String, tensor: String, expected: [Int], actual: [Int], assumption: String? = nil)
    case wrongDType(file: String, tensor: String, expected: String, actual: DType)
    /// A weight is NaN or infinite: every embedding would be NaN.
    case notFinite(file: String, tensor: String, index: Int, value: Float)
    /// config.json gives a tower `configured` layers, but the file holds the layers `found` (sorted indices).
    /// `assumption`: why `configured` is a default rather than the file's value.
    case layerCount(
        file: String, tower: String, key: String, configured: Int, found: [Int], assumption: String? = nil)

    public var description: String {
        switch self {
        case .missingTensor(let file, let tensor):
            return "\(file) lacks tensor \"\(tensor)\" that config.json calls for; the weights and config.json "
                + "do not belong together"
        case .unexpectedTensor(let file, let tensor):
            return "\(file) holds tensor \"\(tensor)\" that a CLIP model with this config.json does not use; "
                + "the weights and config.json do not belong together"
        case .wrongShape(let file, let tensor, let expected, let actual, let assumption):
            guard let assumption else {
                return "\(file): tensor \"\(tensor)\" has shape \(actual), but config.json implies \(expected)"
            }
            return "\(file): tensor \"\(tensor)\" has shape \(actual), but \(assumption), which imply \(expected); "
                + "give config.json the keys for these weights (the config.json that came with them)"
        case .wrongDType(let file, let tensor, let expected, let actual):
            return "\(file): tensor \"\(tensor)\" has dtype \(actual.rawValue), expected \(expected)"
        case .notFinite(let file, let tensor, let index, let value):
            return "\(file): tensor \"\(tensor)\" holds \(value) (element \(index)); a CLIP model's weights are finite "
                + "numbers, so the file is damaged: fetch or write it again"
        case .layerCount(let file, let tower, let key, let configured, let found, let assumption):
            let held: String
            if found.isEmpty {
                held = "no \(tower) layers"
            } else if found == Array(0..<found.count) {
                held = "\(found.count) \(tower) layers (0…\(found.count - 1))"
            } else {
                let shown = found.prefix(8).map(String.init).joined(separator: ", ")
                held = "\(tower) layers numbered \(shown)\(found.count > 8 ? ", …" : "") (\(found.count) in all)"
            }
            guard let assumption else {
                return "config.json's \(key) is \(configured), but \(file) holds \(held); the weights and config.json "
                    + "do not belong together"
            }
            return "\(assumption) (\(key) \(configured)), but \(file) holds \(held); give config.json the keys for "
                + "these weights (the config.json that came with them)"
        }
    }
}

/// LayerNorm parameters.
struct LayerNormWeights {
    let weight: FloatTensor  // [W]
    let bias: FloatTensor  // [W]
}

/// A linear layer y = x·Wᵀ + b, weight stored [out, in] as PyTorch does.
struct LinearWeights {
    let weight: FloatTensor  // [out, in]
    let bias: FloatTensor?  // [out]
}

/// One pre-norm transformer block (CLIPEncoderLayer).
struct EncoderLayerWeights {
    let layerNorm1: LayerNormWeights  // [W]
    let qProj: LinearWeights  // [W, W], [W]
    let kProj: LinearWeights  // [W, W], [W]
    let vProj: LinearWeights  // [W, W], [W]
    let outProj: LinearWeights  // [W, W], [W]
    let layerNorm2: LayerNormWeights  // [W]
    let fc1: LinearWeights  // [I, W], [I]
    let fc2: LinearWeights  // [W, I], [W]
}

/// text_model.*
struct TextWeights {
    let tokenEmbedding: FloatTensor  // [vocab, W]
    let positionEmbedding: FloatTensor  // [context, W]
    let layers: [EncoderLayerWeights]
    let finalLayerNorm: LayerNormWeights  // [W]
}

/// vision_model.*
struct VisionWeights {
    let classEmbedding: FloatTensor  // [W]
    let patchEmbedding: FloatTensor  // [W, 3, P, P]
    let positionEmbedding: FloatTensor  // [grid² + 1, W]
    let preLayerNorm: LayerNormWeights  // [W]
    let layers: [EncoderLayerWeights]
    let postLayerNorm: LayerNormWeights  // [W]
}

/// The whole checkpoint.
struct CLIPWeights {
    let text: TextWeights
    let vision: VisionWeights
    let textProjection: FloatTensor  // [D, W_text]
    let visualProjection: FloatTensor  // [D, W_vision]
    let logitScale: FloatTensor  // [] (or [1])

    /// Verifies `file` against `configuration` (every tensor present with its shape and a float dtype, nothing
    /// else but the ignored position ids) and maps it.
    init(file: SafeTensorsFile, configuration: CLIPConfiguration) throws {
        try Self.verify(file, configuration)
        func tensor(_ name: String) throws -> FloatTensor {
            let tensor = try file.floats(name)
            if let index = firstNonFinite(tensor.pointer, count: tensor.count) {
                throw CLIPWeightsError.notFinite(
                    file: file.url.path, tensor: name, index: index, value: tensor.pointer[index])
            }
            return tensor
        }
        func norm(_ name: String) throws -> LayerNormWeights {
            LayerNormWeights(weight: try tensor(name + ".weight"), bias: try tensor(name + ".bias"))
        }
        func linear(_ name: String) throws -> LinearWeights {
            LinearWeights(weight: try tensor(name + ".weight"), bias: try tensor(name + ".bias"))
        }
        func layers(_ tower: String, _ count: Int) throws -> [EncoderLayerWeights] {
            try (0..<count).map { index in
                let prefix = TensorName.layer(tower, index) + "."
                return EncoderLayerWeights(
                    layerNorm1: try norm(prefix + TensorName.layerNorm1),
                    qProj: try linear(prefix + TensorName.qProj),
                    kProj: try linear(prefix + TensorName.kProj),
                    vProj: try linear(prefix + TensorName.vProj),
                    outProj: try linear(prefix + TensorName.outProj),
                    layerNorm2: try norm(prefix + TensorName.layerNorm2),
                    fc1: try linear(prefix + TensorName.fc1),
                    fc2: try linear(prefix + TensorName.fc2))
            }
        }
        text = TextWeights(
            tokenEmbedding: try tensor(TensorName.tokenEmbedding),
            positionEmbedding: try tensor(TensorName.textPositionEmbedding),
            layers: try layers(TensorName.text, configuration.text.numHiddenLayers),
            finalLayerNorm: try norm(TensorName.finalLayerNorm))
        vision = VisionWeights(
            classEmbedding: try tensor(TensorName.classEmbedding),
            patchEmbedding: try tensor(TensorName.patchEmbedding),
            positionEmbedding: try tensor(TensorName.visionPositionEmbedding),
            preLayerNorm: try norm(TensorName.preLayerNorm),
            layers: try layers(TensorName.vision, configuration.vision.numHiddenLayers),
            postLayerNorm: try norm(TensorName.postLayerNorm))
        textProjection = try tensor(TensorName.textProjection)
        visualProjection = try tensor(TensorName.visualProjection)
        logitScale = try tensor(TensorName.logitScale)
    }

    /// Checks the configuration's sizes against the file's tensor table before anything is sized from them: each
    /// tower's layer count against the layer indices the file holds, and the embeddings, the first layer's MLP and
    /// the projections (which carry every width, the vocabulary, the positions and the patch size) against their
    /// shapes. With those equal, the full table of expected tensors is as long as the file's own.
    static func checkSizes(_ file: SafeTensorsFile, _ configuration: CLIPConfiguration) throws {
        let path = file.url.path
        for (tower, key, count) in [
            (TensorName.text, "text_config.num_hidden_layers", configuration.text.numHiddenLayers),
            (TensorName.vision, "vision_config.num_hidden_layers", configuration.vision.numHiddenLayers),
        ] {
            let found = TensorName.layerIndices(tower, in: file.tensors.keys)
            guard found == Array(0..<count) else {
                throw CLIPWeightsError.layerCount(
                    file: path, tower: tower, key: key, configured: count, found: found,
                    assumption: configuration.assumption(for: [key]))
            }
        }
        let text = configuration.text
        let vision = configuration.vision
        let firstText = TensorName.layer(TensorName.text, 0) + "."
        let firstVision = TensorName.layer(TensorName.vision, 0) + "."
        // Each tensor's shape and the config.json keys it comes from.
        let t = "text_config."
        let v = "vision_config."
        let sizes: [(String, [Int], [String])] = [
            (TensorName.tokenEmbedding, [text.vocabSize, text.hiddenSize], [t + "vocab_size", t + "hidden_size"]),
            (
                TensorName.textPositionEmbedding, [text.maxPositionEmbeddings, text.hiddenSize],
                [t + "max_position_embeddings", t + "hidden_size"]
            ),
            (
                firstText + TensorName.fc1 + ".weight", [text.intermediateSize, text.hiddenSize],
                [t + "intermediate_size", t + "hidden_size"]
            ),
            (
                TensorName.patchEmbedding, [vision.hiddenSize, vision.numChannels, vision.patchSize, vision.patchSize],
                [v + "hidden_size", v + "num_channels", v + "patch_size"]
            ),
            (
                TensorName.visionPositionEmbedding, [vision.tokenCount, vision.hiddenSize],
                [v + "image_size", v + "patch_size", v + "hidden_size"]
            ),
            (
                firstVision + TensorName.fc1 + ".weight", [vision.intermediateSize, vision.hiddenSize],
                [v + "intermediate_size", v + "hidden_size"]
            ),
            (
                TensorName.textProjection, [configuration.projectionDim, text.hiddenSize],
                ["projection_dim", t + "hidden_size"]
            ),
            (
                TensorName.visualProjection, [configuration.projectionDim, vision.hiddenSize],
                ["projection_dim", v + "hidden_size"]
            ),
        ]
        for (name, shape, keys) in sizes {
            guard let info = file.tensors[name] else { throw CLIPWeightsError.missingTensor(file: path, tensor: name) }
            guard info.shape == shape else {
                throw CLIPWeightsError.wrongShape(
                    file: path, tensor: name, expected: shape, actual: info.shape,
                    assumption: configuration.assumption(for: keys))
            }
        }
    }

    /// Verifies `file` against `configuration` without mapping any tensor: `checkSizes`, then every tensor of the
    /// configuration present with its shape and a float dtype, and nothing else but the ignored position ids.
    static func verify(_ file: SafeTensorsFile, _ configuration: CLIPConfiguration) throws {
        try checkSizes(file, configuration)
        let path = file.url.path
        let expected = TensorName.expectedShapes(configuration)
        for (name, shape) in expected {
            guard let info = file.tensors[name] else {
                throw CLIPWeightsError.missingTensor(file: path, tensor: name)
            }
            guard info.dtype.isWeightFloat else {
                throw CLIPWeightsError.wrongDType(
                    file: path, tensor: name, expected: "F32, F16 or BF16",
                    actual: info.dtype)
            }
            let scalarAsVector = name == TensorName.logitScale && info.shape == [1]
            guard info.shape == shape || scalarAsVector else {
                throw CLIPWeightsError.wrongShape(file: path, tensor: name, expected: shape, actual: info.shape)
            }
        }
        let known = Set(expected.map(\.name))
        for name in file.tensors.keys.sorted() where !known.contains(name) {
            guard TensorName.ignoredPositionIDs.contains(name) else {
                throw CLIPWeightsError.unexpectedTensor(file: path, tensor: name)
            }
            let dtype = file.tensors[name]!.dtype
            guard dtype == .i64 else {
                throw CLIPWeightsError.wrongDType(file: path, tensor: name, expected: "I64", actual: dtype)
            }
        }
    }
}

/// The index of the first element of `values` that is NaN or infinite (all exponent bits set), or nil. Eight lanes
/// at a time: the whole of ViT-B/32's weights in a few tens of milliseconds.
func firstNonFinite(_ values: UnsafePointer<Float>, count: Int) -> Int? {
    let raw = UnsafeRawPointer(values)
    let exponent = SIMD8<UInt32>(repeating: 0x7F80_0000)
    var index = 0
    while index + 8 <= count {
        let bits = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<UInt32>.self)
        if any(bits & exponent .== exponent) { break }
        index += 8
    }
    while index < count {
        if !values[index].isFinite { return index }
        index += 1
    }
    return nil
}
