// Writer of complete CLIP model folders with seeded random weights, for tests and benchmarks without the real
// checkpoint. Shapes follow openai's ViT-B/32 and ViT-B/16 (transformers' CLIPConfig defaults) plus a tiny one;
// the tensor list is the loader's own table (TensorName.expectedShapes). Values come from SplitMix64 (Steele,
// Lea & Flood 2014) and are made roughly normal as a scaled sum of four uniforms (Irwin–Hall); they are not
// transformers' initialiser: LayerNorm weights 1 ± small noise, matrices N(0, 1/fan_in), small embeddings and biases.
import Foundation
import Glibc
import SafeFiles

public enum RandomModel {
    /// The model shapes the writer knows.
    public enum Shape: String, CaseIterable, Sendable {
        /// openai/clip-vit-base-patch32: 224 px, patch 32, vision 768×12, text 512×12, projection 512.
        case vitB32 = "vit-b-32"
        /// openai/clip-vit-base-patch16: as ViT-B/32 with patch 16 (197 image tokens).
        case vitB16 = "vit-b-16"
        /// A fast stand-in: 224 px, patch 32, both towers width 64 with 2 layers and 2 heads, projection 32.
        case tiny
    }

    /// The text stored under `"_comment"` in a random model's config.json.
    public static let comment =
        "clipcam random-weight model: the weights are seeded random numbers, not a "
        + "trained CLIP, so every score it gives is meaningless. For tests and benchmarks only."

    /// The configuration `write` uses for `shape` with a vocabulary of `vocabularySize` tokens.
    public static func configuration(shape: Shape, vocabularySize: Int, bosTokenID: Int, eosTokenID: Int)
        -> CLIPConfiguration
    {
        var config = CLIPConfiguration()
        config.isRandom = true
        config.text.vocabSize = vocabularySize
        config.text.bosTokenID = bosTokenID
        config.text.eosTokenID = eosTokenID
        switch shape {
        case .vitB32:
            break
        case .vitB16:
            config.vision.patchSize = 16
        case .tiny:
            config.vision.hiddenSize = 64
            config.vision.intermediateSize = 256
            config.vision.numHiddenLayers = 2
            config.vision.numAttentionHeads = 2
            config.text.hiddenSize = 64
            config.text.intermediateSize = 256
            config.text.numHiddenLayers = 2
            config.text.numAttentionHeads = 2
            config.projectionDim = 32
        }
        return config
    }

    /// Writes a model folder at `destination` (which must not exist yet): config.json marked random,
    /// model.safetensors with seeded weights in `dtype` (F32, F16 or BF16), and vocab.json and merges.txt copied
    /// from `vocabulary`, whose size sets the vocabulary size. Everything is written into a hidden sibling folder
    /// that is renamed to `destination` once complete, in one step that fails (`StagingError.destinationAppeared`)
    /// if something appeared there meanwhile; on any error (including one thrown by `progress`, which cancels)
    /// nothing is left behind. `progress` receives bytes of model.safetensors written and its size.
    public static func write(
        shape: Shape, seed: UInt64, to destination: URL, vocabulary: URL, dtype: DType = .f32,
        progress: (_ bytesWritten: Int, _ totalBytes: Int) throws -> Void = { _, _ in }
    ) throws {
        guard dtype.isWeightFloat else { throw RandomModelError.unsupportedDType(dtype) }
        var status = stat()
        guard lstat(destination.path, &status) != 0 else {
            throw RandomModelError.destinationExists(path: destination.path)
        }
        let vocab = try VocabularyFiles(folder: vocabulary)
        let staging = try StagingFolder(beside: SystemPath(destination.path))
        try writeFolder(
            shape: shape, seed: seed, into: staging.url, shownAs: destination.path, vocabulary: vocab, dtype: dtype,
            progress: progress)
        try staging.publish()
    }

    /// Writes the four files of a random model into the existing, empty `folder`, as `write` does; errors name the
    /// files as if `folder` were `shownAs` (the folder the user asked for, when `folder` is a staging folder).
    public static func writeFolder(
        shape: Shape, seed: UInt64, into folder: URL, shownAs: String, vocabulary: URL, dtype: DType = .f32,
        progress: (_ bytesWritten: Int, _ totalBytes: Int) throws -> Void = { _, _ in }
    ) throws {
        guard dtype.isWeightFloat else { throw RandomModelError.unsupportedDType(dtype) }
        try writeFolder(
            shape: shape, seed: seed, into: folder, shownAs: shownAs,
            vocabulary: try VocabularyFiles(folder: vocabulary),
            dtype: dtype, progress: progress)
    }

    private static func writeFolder(
        shape: Shape, seed: UInt64, into folder: URL, shownAs: String, vocabulary vocab: VocabularyFiles,
        dtype: DType, progress: (_ bytesWritten: Int, _ totalBytes: Int) throws -> Void
    ) throws {
        let config = configuration(
            shape: shape, vocabularySize: vocab.size, bosTokenID: vocab.startID,
            eosTokenID: vocab.endID)
        let torchDType = dtype == .f32 ? "float32" : dtype == .f16 ? "float16" : "bfloat16"
        let text = config.jsonText(extra: ["_comment": .string(comment), "torch_dtype": .string(torchDType)])
        let shown = URL(fileURLWithPath: shownAs)
        try OutputFile(creating: folder.appendingPathComponent("config.json").path, shownAs: shown)
            .write(Array(text.utf8))
        try writeWeights(
            config: config, seed: seed, dtype: dtype, path: folder.appendingPathComponent("model.safetensors").path,
            shownAs: shown, progress: progress)
        for (name, bytes) in [("vocab.json", vocab.vocabBytes), ("merges.txt", vocab.mergesBytes)] {
            try OutputFile(creating: folder.appendingPathComponent(name).path, shownAs: shown).write(bytes)
        }
    }

    /// Streams every tensor of `config`'s table, each drawn from its own generator so values depend only on the
    /// seed and the tensor's place in the table.
    static func writeWeights(
        config: CLIPConfiguration, seed: UInt64, dtype: DType, path: String, shownAs: URL? = nil,
        progress: (_ bytesWritten: Int, _ totalBytes: Int) throws -> Void
    ) throws {
        let table = TensorName.expectedShapes(config)
        let writer = try SafeTensorsWriter(
            path: path, shownAs: shownAs,
            declarations: table.map { SafeTensorsWriter.Declaration(name: $0.name, dtype: dtype, shape: $0.shape) },
            metadata: ["format": "pt", "clipcam": "random weights, seed \(seed)"])
        try progress(writer.bytesWritten, writer.totalBytes)

        let chunkSize = 1 << 16
        var chunk = [Float](repeating: 0, count: chunkSize)
        for (index, entry) in table.enumerated() {
            var generator = SplitMix64(seed: seed, stream: UInt64(index))
            let draw = Distribution(name: entry.name, shape: entry.shape)
            var remaining = entry.shape.reduce(1, *)
            while remaining > 0 {
                let count = min(remaining, chunkSize)
                for i in 0..<count { chunk[i] = draw.sample(&generator) }
                try chunk.withUnsafeBufferPointer { all in
                    try writer.append(UnsafeBufferPointer(rebasing: all[0..<count]), as: dtype)
                }
                remaining -= count
                try progress(writer.bytesWritten, writer.totalBytes)
            }
        }
    }

    /// How the values of one tensor are drawn.
    private struct Distribution {
        let center: Float
        let spread: Float

        init(name: String, shape: [Int]) {
            if name == TensorName.logitScale {
                (center, spread) = (Float(log(100.0)), 0)
            } else if name.hasSuffix(".bias") {
                (center, spread) = (0, 0.02)
            } else if name.contains("norm") || name.contains("layrnorm") {
                (center, spread) = (1, 0.05)
            } else if name.contains("embedding") && name != TensorName.patchEmbedding {
                (center, spread) = (0, 0.02)
            } else {
                let fanIn = shape.dropFirst().reduce(1, *)
                (center, spread) = (0, 1 / Float(fanIn).squareRoot())
            }
        }

        func sample(_ generator: inout SplitMix64) -> Float {
            spread == 0 ? center : center + spread * generator.nextNormalish()
        }
    }
}

/// SplitMix64: a tiny, fast, seedable 64-bit generator.
struct SplitMix64 {
    private var state: UInt64

    /// A generator for one of many independent streams of the same seed.
    init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Mean 0, standard deviation 1, bounded by ±2√3: the sum of four 16-bit uniforms, centred and scaled.
    mutating func nextNormalish() -> Float {
        let bits = next()
        let a = Float(bits & 0xFFFF), b = Float((bits >> 16) & 0xFFFF)
        let c = Float((bits >> 32) & 0xFFFF), d = Float(bits >> 48)
        let sum = (a + b + c + d + 2) / 65536  // each lane's mean is exactly 1/2
        return (sum - 2) * 1.7320508
    }
}

/// Problems writing a random model; each names the path at fault.
public enum RandomModelError: Error, CustomStringConvertible, Equatable {
    case destinationExists(path: String)
    case unsupportedDType(DType)
    case vocabularyUnreadable(file: String, reason: String)
    case vocabularyInvalid(file: String, problem: String)

    public var description: String {
        switch self {
        case .destinationExists(let path):
            return "\(path) already exists; remove it or choose another folder for the random model"
        case .unsupportedDType(let dtype):
            return "random models are written as F32, F16 or BF16, not \(dtype.rawValue)"
        case .vocabularyUnreadable(let file, let reason):
            return "cannot read \(file): \(reason); run `python3 scripts/fetch-vocab` to write the vocabulary"
        case .vocabularyInvalid(let file, let problem):
            return "\(file) is not a CLIP vocabulary: \(problem); run `python3 scripts/fetch-vocab --force`"
        }
    }
}

/// vocab.json and merges.txt of a tokenizer folder, read as regular files of bounded size (a FIFO or device is
/// refused, never waited on) and checked enough to size the model; the bytes read are the bytes written.
private struct VocabularyFiles {
    /// The largest vocab.json or merges.txt read (CLIP's are 0.9 MB and 0.5 MB).
    static let limit = 64 << 20

    let vocabBytes: [UInt8]
    let mergesBytes: [UInt8]
    let size: Int
    let startID: Int
    let endID: Int

    init(folder: URL) throws {
        func read(_ name: String) throws -> (URL, [UInt8]) {
            let url = folder.appendingPathComponent(name)
            do {
                return (url, try ReadableFile.read(url.path, role: name, limit: Self.limit))
            } catch let error as FileAccessError {
                throw RandomModelError.vocabularyUnreadable(file: url.path, reason: error.reason)
            }
        }
        let (vocabURL, vocabBytes) = try read("vocab.json")
        (_, mergesBytes) = try read("merges.txt")
        self.vocabBytes = vocabBytes
        guard let entries = (try? JSONValue.parse(vocabBytes))?.objectValue else {
            throw RandomModelError.vocabularyInvalid(file: vocabURL.path, problem: "not a JSON object")
        }
        var seen = Set<Int>()
        for (token, value) in entries {
            guard let id = value.intValue, id >= 0, id < entries.count, seen.insert(id).inserted else {
                throw RandomModelError.vocabularyInvalid(
                    file: vocabURL.path,
                    problem: "token \"\(token)\" has id \(value.summary); ids must be "
                        + "0..<\(entries.count), each used once")
            }
        }
        guard let start = entries["<|startoftext|>"]?.intValue, let end = entries["<|endoftext|>"]?.intValue else {
            throw RandomModelError.vocabularyInvalid(
                file: vocabURL.path,
                problem: "no <|startoftext|> or <|endoftext|> token")
        }
        guard ConfigurationLimits.vocabulary.contains(entries.count) else {
            throw RandomModelError.vocabularyInvalid(
                file: vocabURL.path,
                problem: "it holds \(entries.count) tokens; a model's vocabulary holds "
                    + ConfigurationLimits.describe(ConfigurationLimits.vocabulary))
        }
        size = entries.count
        startID = start
        endID = end
    }
}
