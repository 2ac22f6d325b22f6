// The Hugging Face CLIP configuration (transformers 5.23 models/clip/configuration_clip.py): CLIPConfig with
// CLIPTextConfig and CLIPVisionConfig, every missing key taking that file's default (openai ViT-B/32's).
// Legacy `text_config_dict` / `vision_config_dict` take precedence over `text_config` / `vision_config`, as
// CLIPConfig.__post_init__ does. Only the keys inference needs are read; others are ignored. Deviations: a list
// `eos_token_id` and non-square `image_size`/`patch_size` are rejected, `num_channels` must be 3, and every size must
// lie within `ConfigurationLimits` (transformers has no limits), so that a damaged or hostile file cannot make
// clipcam allocate without bound before the sizes are checked against model.safetensors.
import Foundation
import SafeFiles

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

/// The sizes clipcam accepts from a config.json. Each admits every released CLIP with room to spare (ViT-B/32 and
/// B/16, ViT-L/14 at 224 and 336 px, ViT-H/14, ViT-g/14 and ViT-bigG/14: at most 48 layers, width 1,664, MLP width
/// 8,192, 24 patches per side, 77 text positions, 49,408 tokens) while keeping every buffer sized from them
/// bounded: an attention score matrix is at most 4,097² floats (64 MiB) per thread, a layer table 128 entries.
public enum ConfigurationLimits {
    /// `num_hidden_layers` of either tower.
    public static let layers = 1...128
    /// `hidden_size` of either tower, and `projection_dim`.
    public static let width = 1...16_384
    /// `intermediate_size` (the MLP's width) of either tower.
    public static let intermediate = 1...65_536
    /// `vision_config.image_size`, in pixels.
    public static let imageSize = 1...4_096
    /// Patches per side (`image_size / patch_size`): at most 64² + 1 = 4,097 image tokens.
    public static let patchesPerSide = 1...64
    /// `text_config.vocab_size`.
    public static let vocabulary = 1...1_000_000
    /// `text_config.max_position_embeddings`: the text context, which must hold a start and an end token.
    public static let textPositions = 2...4_096
    /// The largest config.json read, in bytes (openai's are under 5 KB).
    public static let fileBytes = 1 << 20

    /// "between 1 and 128", for messages.
    static func describe(_ range: ClosedRange<Int>) -> String {
        "between \(range.lowerBound) and \(range.upperBound)"
    }
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
    /// The keys the file lacks whose defaults were taken, as full paths ("vision_config.num_hidden_layers"), and
    /// the sub-configurations it lacks altogether ("vision_config"), for messages that quote a value: a default
    /// that does not fit the weights is not a value the file gave. Not part of equality.
    public var assumedKeys: Set<String> = []

    public init() {}

    public static func == (a: CLIPConfiguration, b: CLIPConfiguration) -> Bool {
        a.text == b.text && a.vision == b.vision && a.projectionDim == b.projectionDim
            && a.logitScaleInit == b.logitScaleInit && a.isRandom == b.isRandom
    }

    /// Why the values of `keys` (full paths) are defaults, when any is: "config.json has no vision_config, so
    /// transformers' defaults were assumed for it", "config.json has no text_config.vocab_size, so transformers'
    /// default was assumed"; nil when the file gave them all.
    public func assumption(for keys: [String]) -> String? {
        let sections = keys.filter { $0.contains(".") }.compactMap { $0.split(separator: ".").first.map(String.init) }
            .filter { assumedKeys.contains($0) }
        if let section = sections.first {
            return "config.json has no \(section), so transformers' defaults were assumed for it"
        }
        // A legacy file's keys are read from text_config_dict / vision_config_dict.
        let missing = keys.filter { key in
            let parts = key.split(separator: ".", maxSplits: 1)
            let legacy = parts.count == 2 ? "\(parts[0])_dict.\(parts[1])" : key
            return assumedKeys.contains(key) || assumedKeys.contains(legacy)
        }
        guard !missing.isEmpty else { return nil }
        return "config.json has no \(missing.joined(separator: ", ")), so transformers' "
            + (missing.count == 1 ? "default was" : "defaults were") + " assumed"
    }

    /// Reads and validates `url` (a `config.json`): a regular file (never a FIFO or device, which could block) of
    /// at most `ConfigurationLimits.fileBytes` bytes. Throws `CLIPConfigurationError`.
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do {
            bytes = try ReadableFile.read(url.path, role: "config.json", limit: ConfigurationLimits.fileBytes)
        } catch let error as FileAccessError {
            throw CLIPConfigurationError.cannotRead(file: url.path, reason: error.reason)
        }
        try self.init(json: Data(bytes), file: url.path)
    }

    /// Parses and validates configuration JSON; `file` names the source in errors. Throws `CLIPConfigurationError`.
    public init(json data: Data, file: String) throws {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw CLIPConfigurationError.invalidJSON(file: file, reason: String(describing: error))
        }
        guard let top = root.objectValue else { throw CLIPConfigurationError.notAnObject(file: file, key: nil) }
        let reader = KeyReader(file: file)
        defer { assumedKeys = reader.assumed }

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

        try reader.within(
            projectionDim, ConfigurationLimits.width, "projection_dim", "clipcam's limit; ViT-bigG/14 projects to 1280")
    }

    /// The configuration as `config.json` content in the modern form (every key clipcam reads written out). Keys
    /// transformers 5.24 types as `float` (`initializer_factor`, `layer_norm_eps`, `logit_scale_init_value`) are
    /// written with a decimal point or exponent, as its strict typed configs require; `extra` adds or replaces
    /// top-level keys.
    func jsonValue(extra: [String: JSONValue] = [:]) -> JSONValue {
        var top: [String: JSONValue] = [
            "architectures": .array([.string("CLIPModel")]),
            "model_type": .string("clip"),
            "projection_dim": .integer(projectionDim),
            "logit_scale_init_value": .float(logitScaleInit),
            "initializer_factor": .float(1),
            "torch_dtype": .string("float32"),
            "text_config": .object([
                "model_type": .string("clip_text_model"),
                "vocab_size": .integer(text.vocabSize),
                "hidden_size": .integer(text.hiddenSize),
                "intermediate_size": .integer(text.intermediateSize),
                "num_hidden_layers": .integer(text.numHiddenLayers),
                "num_attention_heads": .integer(text.numAttentionHeads),
                "max_position_embeddings": .integer(text.maxPositionEmbeddings),
                "hidden_act": .string(text.hiddenAct.rawValue),
                "layer_norm_eps": .float(text.layerNormEps),
                "projection_dim": .integer(projectionDim),
                "bos_token_id": .integer(text.bosTokenID),
                "eos_token_id": .integer(text.eosTokenID),
                "pad_token_id": .integer(1),
            ]),
            "vision_config": .object([
                "model_type": .string("clip_vision_model"),
                "hidden_size": .integer(vision.hiddenSize),
                "intermediate_size": .integer(vision.intermediateSize),
                "num_hidden_layers": .integer(vision.numHiddenLayers),
                "num_attention_heads": .integer(vision.numAttentionHeads),
                "num_channels": .integer(vision.numChannels),
                "image_size": .integer(vision.imageSize),
                "patch_size": .integer(vision.patchSize),
                "hidden_act": .string(vision.hiddenAct.rawValue),
                "layer_norm_eps": .float(vision.layerNormEps),
                "projection_dim": .integer(projectionDim),
            ]),
        ]
        if isRandom { top[Self.randomMarkerKey] = .bool(true) }
        top.merge(extra) { _, new in new }
        return .object(top)
    }

    /// `jsonValue(extra:)` as the text of a config.json file (two-space indents, sorted keys, final line break).
    func jsonText(extra: [String: JSONValue] = [:]) -> String {
        jsonValue(extra: extra).serialized() + "\n"
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

/// Typed access to configuration keys, with errors that name the file and the full key path; notes the keys the
/// file lacks (their defaults are taken).
private final class KeyReader {
    let file: String
    private(set) var assumed: Set<String> = []

    init(file: String) {
        self.file = file
    }

    /// The value of `key`, noting when the file lacks it.
    private func lookup(_ object: [String: JSONValue], _ key: String, path: String) -> JSONValue? {
        guard let value = object[key] else {
            assumed.insert(path + key)
            return nil
        }
        return value
    }

    func wrongType(_ path: String, _ key: String, _ expected: String, _ value: JSONValue) -> CLIPConfigurationError {
        .wrongType(file: file, key: path + key, expected: expected, found: value.summary)
    }

    func int(_ object: [String: JSONValue], _ key: String, path: String) throws -> Int? {
        guard let value = lookup(object, key, path: path) else { return nil }
        guard let result = value.intValue else { throw wrongType(path, key, "an integer", value) }
        return result
    }

    /// A number that fits a 32-bit float.
    func float(_ object: [String: JSONValue], _ key: String, path: String) throws -> Float? {
        guard let value = lookup(object, key, path: path) else { return nil }
        guard let result = value.doubleValue else { throw wrongType(path, key, "a number", value) }
        guard Float(result).isFinite else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: path + key, value: value.summary,
                requirement: "a number a 32-bit float can hold (at most about 3.4e38 in size)")
        }
        return Float(result)
    }

    func bool(_ object: [String: JSONValue], _ key: String, path: String) throws -> Bool? {
        guard let value = lookup(object, key, path: path) else { return nil }
        guard let result = value.boolValue else { throw wrongType(path, key, "true or false", value) }
        return result
    }

    func string(_ object: [String: JSONValue], _ key: String, path: String) throws -> String? {
        guard let value = lookup(object, key, path: path) else { return nil }
        guard let result = value.stringValue else { throw wrongType(path, key, "a string", value) }
        return result
    }

    /// `image_size` / `patch_size`: an integer or a square [h, w] pair.
    func squareSize(_ object: [String: JSONValue], _ key: String, path: String) throws -> Int? {
        guard let value = lookup(object, key, path: path) else { return nil }
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

    /// Checks that `value` lies in `range`, one of `ConfigurationLimits`; `why` says what the limit protects.
    func within(_ value: Int, _ range: ClosedRange<Int>, _ key: String, _ why: String) throws {
        guard range.contains(value) else {
            throw CLIPConfigurationError.invalidValue(
                file: file, key: key, value: String(value),
                requirement: ConfigurationLimits.describe(range) + (why.isEmpty ? "" : " (\(why))"))
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
        assumed.insert(modern)
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

        try within(
            config.vocabSize, ConfigurationLimits.vocabulary, path + "vocab_size",
            "clipcam's limit; CLIP's vocabulary has 49408 tokens")
        try within(
            config.maxPositionEmbeddings, ConfigurationLimits.textPositions, path + "max_position_embeddings",
            "the context holds a start and an end token; CLIP's has 77")
        try checkTransformer(
            hidden: config.hiddenSize, intermediate: config.intermediateSize,
            layers: config.numHiddenLayers, heads: config.numAttentionHeads,
            eps: config.layerNormEps, path: path)
        let ids = 0...(config.vocabSize - 1)
        try within(config.bosTokenID, ids, path + "bos_token_id", "an id of the vocabulary of vocab_size tokens")
        try within(config.eosTokenID, ids, path + "eos_token_id", "an id of the vocabulary of vocab_size tokens")
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
        try within(
            config.imageSize, ConfigurationLimits.imageSize, path + "image_size",
            "pixels per side, clipcam's limit; openai's largest CLIP takes 336")
        try within(config.patchSize, 1...config.imageSize, path + "patch_size", "at most image_size")
        try within(
            config.gridSize, ConfigurationLimits.patchesPerSide, path + "image_size / patch_size",
            "patches per side, clipcam's limit: 64 make 4097 image tokens; CLIP's most is 24")
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
        try within(
            hidden, ConfigurationLimits.width, path + "hidden_size", "clipcam's limit; ViT-bigG/14's widest is 1664")
        try within(
            intermediate, ConfigurationLimits.intermediate, path + "intermediate_size",
            "clipcam's limit; ViT-bigG/14's widest is 8192")
        try within(
            layers, ConfigurationLimits.layers, path + "num_hidden_layers",
            "clipcam's limit; ViT-bigG/14, the deepest CLIP, has 48")
        try within(heads, 1...hidden, path + "num_attention_heads", "at most hidden_size")
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

extension FileAccessError {
    /// Why the file could not be read, without its path (for messages that name the file themselves).
    var reason: String {
        switch self {
        case .missing: return "no such file"
        case .notRegularFile(_, _, let kind): return "it is \(kind), not a regular file"
        case .permissionDenied: return "permission denied"
        case .cannotOpen(_, _, let code), .readFailed(_, _, let code): return String(cString: strerror(code))
        case .tooLarge(_, _, let size, let limit): return "it is \(size) bytes, more than the \(limit) bytes allowed"
        case .nameNotUnique: return description
        }
    }
}
