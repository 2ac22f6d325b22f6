// The Hugging Face CLIP configuration (transformers 5.23 models/clip/configuration_clip.py): CLIPConfig with
// CLIPTextConfig and CLIPVisionConfig, every missing key taking that file's default (openai ViT-B/32's).
// Legacy `text_config_dict` / `vision_config_dict` take precedence over `text_config` / `vision_config`, as
// CLIPConfig.__post_init__ does. Only the keys inference needs are read; others are ignored. Deviations: a list
// `eos_token_id` and non-square `image_size`/`patch_size` are rejected, and `num_channels` must be 3.
import Foundation

/// The MLP activation named by `hidden_act`.
public enum Activation: String, Sendable, CaseIterable {
    /// x · σ(1.702 x), OpenAI's weights.
    case quickGELU = "quick_gelu"
    /// Exact GELU, x · Φ(x) with erf.
    case gelu = "gelu"
    /// The tanh approximation of GELU.
    case geluNew = "gelu_new"
    /// The tanh approximation of GELU under PyTorch's name (same function as `gelu_new`).
    case geluPytorchTanh = "gelu_pytorch_tanh"
}

/// `text_config` of a CLIP configuration.
public struct TextConfig: Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = Activation.quickGELU
    public var layerNormEps: Float = 1e-5
    public var bosTokenID = 49406
    public var eosTokenID = 49407

    public init() {}

    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// transformers' legacy rule: configurations with `eos_token_id == 2` pool at the largest token id;
    /// all others pool at the first `eos_token_id`.
    public var poolsAtLargestID: Bool { eosTokenID == 2 }
}

/// `vision_config` of a CLIP configuration.
public struct VisionConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = Activation.quickGELU
    public var layerNormEps: Float = 1e-5

    public init() {}

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches per side (the stride-`patchSize` convolution drops any remainder).
    public var gridSize: Int { imageSize / patchSize }
    /// Class token plus one token per patch.
    public var tokenCount: Int { gridSize * gridSize + 1 }
}

/// A CLIP model's `config.json`.
public struct CLIPConfiguration: Sendable, Equatable {
    /// The top-level key that marks clipcam's random-weight models.
    public static let randomMarkerKey = "clipcam_random_weights"

    public var text = TextConfig()
    public var vision = VisionConfig()
    public var projectionDim = 512
    public var logitScaleInit: Float = 2.6592
    /// True when the file carries `"clipcam_random_weights": true`: the weights are random, scores meaningless.
    public var isRandom = false

    public init() {}

    /// Reads and validates `url` (a `config.json`).
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CLIPConfigurationError.cannotRead(file: url.path, reason: error.localizedDescription)
        }
        try self.init(json: data, file: url.path)
    }

    /// Parses and validates configuration JSON; `file` names the source in errors.
    public init(json data: Data, file: String) throws {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw CLIPConfigurationError.invalidJSON(file: file, reason: String(describing: error))
        }
        guard let top = root.objectValue else { throw CLIPConfigurationError.notAnObject(file: file, key: nil) }
        let reader = KeyReader(file: file)

        if let modelType = try reader.string(top, "model_type", path: ""), modelType != "clip" {
            throw CLIPConfigurationError.notCLIP(file: file, modelType: modelType)
        }
        projectionDim = try reader.int(top, "projection_dim", path: "") ?? projectionDim
        logitScaleInit = try reader.float(top, "logit_scale_init_value", path: "") ?? logitScaleInit
        isRandom = try reader.bool(top, Self.randomMarkerKey, path: "") ?? false

        let (textKey, textFields) = try reader.subConfig(top, legacy: "text_config_dict", modern: "text_config")
        text = try reader.textConfig(textFields, path: textKey + ".")
        let (visionKey, visionFields) = try reader.subConfig(
            top, legacy: "vision_config_dict", modern: "vision_config")
        vision = try reader.visionConfig(visionFields, path: visionKey + ".")

        try reader.positive(projectionDim, "projection_dim")
    }

    /// The configuration as `config.json` content in the modern form (every key written out).
    func jsonObject(extra: [String: Any] = [:]) -> [String: Any] {
        var top: [String: Any] = [
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": projectionDim,
            "logit_scale_init_value": Self.decimal(logitScaleInit),
            "initializer_factor": 1.0,
            "torch_dtype": "float32",
            "text_config": [
                "model_type": "clip_text_model",
                "vocab_size": text.vocabSize,
                "hidden_size": text.hiddenSize,
                "intermediate_size": text.intermediateSize,
                "num_hidden_layers": text.numHiddenLayers,
                "num_attention_heads": text.numAttentionHeads,
                "max_position_embeddings": text.maxPositionEmbeddings,
                "hidden_act": text.hiddenAct.rawValue,
                "layer_norm_eps": Self.decimal(text.layerNormEps),
                "projection_dim": projectionDim,
                "bos_token_id": text.bosTokenID,
                "eos_token_id": text.eosTokenID,
                "pad_token_id": 1,
            ] as [String: Any],
            "vision_config": [
                "model_type": "clip_vision_model",
                "hidden_size": vision.hiddenSize,
                "intermediate_size": vision.intermediateSize,
                "num_hidden_layers": vision.numHiddenLayers,
                "num_attention_heads": vision.numAttentionHeads,
                "num_channels": vision.numChannels,
                "image_size": vision.imageSize,
                "patch_size": vision.patchSize,
                "hidden_act": vision.hiddenAct.rawValue,
                "layer_norm_eps": Self.decimal(vision.layerNormEps),
                "projection_dim": projectionDim,
            ] as [String: Any],
        ]
        if isRandom { top[Self.randomMarkerKey] = true }
        top.merge(extra) { _, new in new }
        return top
    }

    /// The Double with the Float's shortest decimal spelling, so 1e-5 is written as 1e-05, not 9.99999974e-06.
    private static func decimal(_ value: Float) -> Double {
        Double(String(value)) ?? Double(value)
    }
}

/// What can be wrong with a `config.json`; each case names the file and the key.
public enum CLIPConfigurationError: Error, CustomStringConvertible, Equatable {
    case cannotRead(file: String, reason: String)
    case invalidJSON(file: String, reason: String)
    case notAnObject(file: String, key: String?)
    case notCLIP(file: String, modelType: String)
    case wrongType(file: String, key: String, expected: String, found: String)
    case invalidValue(file: String, key: String, value: String, requirement: String)
    case unsupportedActivation(file: String, key: String, value: String)

    public var description: String {
        switch self {
        case .cannotRead(let file, let reason):
            return "cannot read CLIP configuration \(file): \(reason); the model folder needs a config.json"
        case .invalidJSON(let file, let reason):
            return "\(file) is not valid JSON (\(reason)); fix or replace the file"
        case .notAnObject(let file, let key):
            return key.map { "\(file): \"\($0)\" is not a JSON object" }
                ?? "\(file) does not hold a JSON object; it is not a Hugging Face config.json"
        case .notCLIP(let file, let modelType):
            return "\(file) describes a \"\(modelType)\" model, not \"clip\"; give the folder of a CLIP model"
        case .wrongType(let file, let key, let expected, let found):
            return "\(file): \"\(key)\" is \(found), expected \(expected)"
        case .invalidValue(let file, let key, let value, let requirement):
            return "\(file): \"\(key)\" is \(value), but it must be \(requirement)"
        case .unsupportedActivation(let file, let key, let value):
            return "\(file): \"\(key)\" is \"\(value)\"; supported activations: "
                + Activation.allCases.map(\.rawValue).joined(separator: ", ")
        }
    }
}

/// Typed access to configuration keys, with errors that name the file and the full key path.
private struct KeyReader {
    let file: String

    func wrongType(_ path: String, _ key: String, _ expected: String, _ value: JSONValue) -> CLIPConfigurationError {
        .wrongType(file: file, key: path + key, expected: expected, found: value.summary)
    }

    func int(_ object: [String: JSONValue], _ key: String, path: String) throws -> Int? {
        guard let value = object[key] else { return nil }
        guard let result = value.intValue else { throw wrongType(path, key, "an integer", value) }
        return result
    }

    func float(_ object: [String: JSONValue], _ key: String, path: String) throws -> Float? {
        guard let value = object[key] else { return nil }
        guard let result = value.doubleValue else { throw wrongType(path, key, "a number", value) }
        return Float(result)
    }

    func bool(_ object: [String: JSONValue], _ key: String, path: String) throws -> Bool? {
        guard let value = object[key] else { return nil }
        guard let result = value.boolValue else { throw wrongType(path, key, "true or false", value) }
        return result
    }

    func string(_ object: [String: JSONValue], _ key: String, path: String) throws -> String? {
        guard let value = object[key] else { return nil }
        guard let result = value.stringValue else { throw wrongType(path, key, "a string", value) }
        return result
    }

    /// `image_size` / `patch_size`: an integer or a square [h, w] pair.
    func squareSize(_ object: [String: JSONValue], _ key: String, path: String) throws -> Int? {
        guard let value = object[key] else { return nil }
        if let size = value.intValue { return size }
        if let items = value.arrayValue, items.count == 2, let height = items[0].intValue,
            let width = items[1].intValue
        {
            guard height == width else {
                throw CLIPConfigurationError.invalidValue(
                    file: file, key: path + key, value: value.summary, requirement: "square (height == width)")
            }
            return height
        }
        throw wrongType(path, key, "an integer or [height, width]", value)
    }

    func activation(_ object: [String: JSONValue], _ key: String, path: String) throws -> Activation? {
        guard let name = try string(object, key, path: path) else { return nil }
        guard let activation = Activation(rawValue: name) else {
            throw CLIPConfigurationError.unsupportedActivation(file: file, key: path + key, value: name)
        }
        return activation
    }

    func positive(_ value: Int, _ key: String) throws {
        guard value > 0 else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: key, value: String(value),
                requirement: "a positive integer")
        }
    }

    /// The sub-configuration's fields and the key they came from: the legacy `*_dict` when present, otherwise
    /// the modern key, otherwise nothing (all defaults).
    func subConfig(_ top: [String: JSONValue], legacy: String, modern: String) throws
        -> (String, [String: JSONValue])
    {
        for key in [legacy, modern] {
            guard let value = top[key], value != .null else { continue }
            guard let fields = value.objectValue else {
                throw CLIPConfigurationError.notAnObject(file: file, key: key)
            }
            return (key, fields)
        }
        return (modern, [:])
    }

    func textConfig(_ fields: [String: JSONValue], path: String) throws -> TextConfig {
        var config = TextConfig()
        config.vocabSize = try int(fields, "vocab_size", path: path) ?? config.vocabSize
        config.hiddenSize = try int(fields, "hidden_size", path: path) ?? config.hiddenSize
        config.intermediateSize = try int(fields, "intermediate_size", path: path) ?? config.intermediateSize
        config.numHiddenLayers = try int(fields, "num_hidden_layers", path: path) ?? config.numHiddenLayers
        config.numAttentionHeads = try int(fields, "num_attention_heads", path: path) ?? config.numAttentionHeads
        config.maxPositionEmbeddings =
            try int(fields, "max_position_embeddings", path: path) ?? config.maxPositionEmbeddings
        config.hiddenAct = try activation(fields, "hidden_act", path: path) ?? config.hiddenAct
        config.layerNormEps = try float(fields, "layer_norm_eps", path: path) ?? config.layerNormEps
        config.bosTokenID = try int(fields, "bos_token_id", path: path) ?? config.bosTokenID
        config.eosTokenID = try int(fields, "eos_token_id", path: path) ?? config.eosTokenID

        try positive(config.vocabSize, path + "vocab_size")
        try positive(config.maxPositionEmbeddings, path + "max_position_embeddings")
        try checkTransformer(
            hidden: config.hiddenSize, intermediate: config.intermediateSize,
            layers: config.numHiddenLayers, heads: config.numAttentionHeads,
            eps: config.layerNormEps, path: path)
        return config
    }

    func visionConfig(_ fields: [String: JSONValue], path: String) throws -> VisionConfig {
        var config = VisionConfig()
        config.hiddenSize = try int(fields, "hidden_size", path: path) ?? config.hiddenSize
        config.intermediateSize = try int(fields, "intermediate_size", path: path) ?? config.intermediateSize
        config.numHiddenLayers = try int(fields, "num_hidden_layers", path: path) ?? config.numHiddenLayers
        config.numAttentionHeads = try int(fields, "num_attention_heads", path: path) ?? config.numAttentionHeads
        config.numChannels = try int(fields, "num_channels", path: path) ?? config.numChannels
        config.imageSize = try squareSize(fields, "image_size", path: path) ?? config.imageSize
        config.patchSize = try squareSize(fields, "patch_size", path: path) ?? config.patchSize
        config.hiddenAct = try activation(fields, "hidden_act", path: path) ?? config.hiddenAct
        config.layerNormEps = try float(fields, "layer_norm_eps", path: path) ?? config.layerNormEps

        guard config.numChannels == 3 else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: path + "num_channels",
                value: String(config.numChannels), requirement: "3 (RGB)")
        }
        try positive(config.patchSize, path + "patch_size")
        guard config.imageSize >= config.patchSize else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: path + "image_size", value: String(config.imageSize),
                requirement: "at least patch_size (\(config.patchSize))")
        }
        try checkTransformer(
            hidden: config.hiddenSize, intermediate: config.intermediateSize,
            layers: config.numHiddenLayers, heads: config.numAttentionHeads,
            eps: config.layerNormEps, path: path)
        return config
    }

    private func checkTransformer(
        hidden: Int, intermediate: Int, layers: Int, heads: Int, eps: Float,
        path: String
    ) throws {
        try positive(hidden, path + "hidden_size")
        try positive(intermediate, path + "intermediate_size")
        try positive(layers, path + "num_hidden_layers")
        try positive(heads, path + "num_attention_heads")
        guard hidden % heads == 0 else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: path + "num_attention_heads", value: String(heads),
                requirement: "a divisor of hidden_size (\(hidden))")
        }
        guard eps > 0, eps.isFinite else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: path + "layer_norm_eps", value: String(eps),
                requirement: "a positive number")
        }
    }
}
