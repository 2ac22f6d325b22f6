import CLIPModel
import CLIPTokenizer
import Capture
import Classifier
import Foundation
import SafeFiles

/// A text prompt's embedding and how it was tokenized.
public struct PromptEmbedding: Sendable {
    public var text: String
    /// L2-normalised.
    public var embedding: [Float]
    public var tokenCount: Int
    /// The prompt had more than 77 tokens and was cut (EOT kept last).
    public var truncated: Bool
}

/// CLIP as clipcam uses it: model, tokenizer and preprocessing loaded from one model folder.
/// Owned by one thread (the model keeps its activation buffers).
public final class ClipEngine {
    public let directory: URL
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let preprocessor: ImagePreprocessor
    private let workspace = PreprocessWorkspace()
    private var pixels: [Float]
    private var embedding: [Float]

    /// Loads the model folder `directory`: config.json first (every size within `ConfigurationLimits`), then the
    /// tokenizer, checked against it (`ModelLocation.checkTokenizer`), then the weights, checked against it before
    /// anything is sized from it. `threads`: how many threads each encoding is shared among; `precision`: the image
    /// encoder's arithmetic.
    public init(directory: URL, threads: Int = CLIPModel.defaultThreads, precision: Precision = .fp32) throws {
        try CPUCheck.verify()
        try ModelLocation.check(directory)
        self.directory = directory
        let configuration = try CLIPConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        tokenizer = try CLIPTokenizer(directory: directory)
        try ModelLocation.checkTokenizer(tokenizer, against: configuration, in: directory)
        model = try CLIPModel(
            directory: directory, configuration: configuration, threads: threads, precision: precision)
        preprocessor = ImagePreprocessor(size: model.imageSize)
        pixels = [Float](repeating: 0, count: 3 * model.imageSize * model.imageSize)
        embedding = [Float](repeating: 0, count: model.configuration.projectionDim)
    }

    /// The folder's name, e.g. `clip-vit-base-patch32`.
    public var name: String {
        // The folder as the user named it: a name that is not UTF-8 is opened through a /proc/<pid>/fd alias.
        URL(fileURLWithPath: PathNames.restore(in: directory.path)).lastPathComponent
    }
    /// The model was written by `clipcam model random`: its scores mean nothing.
    public var isRandom: Bool { model.configuration.isRandom }
    public var logitScale: Float { model.logitScale }

    /// The characters of a prompt that messages and tables show; a longer one is shown by its start and length.
    public static let shownPromptLength = 60

    /// A prompt as messages and tables show it: whole when it is at most `shownPromptLength` characters, else its
    /// start and its length (`"a very long…" (5300 characters)`), quoted when `quoted`. JSON, JSONL and CSV keep
    /// every prompt whole.
    public static func shownPrompt(_ text: String, quoted: Bool = false) -> String {
        let mark = quoted ? "\"" : ""
        guard text.count > shownPromptLength else { return mark + text + mark }
        return "\(mark)\(text.prefix(shownPromptLength))…\(mark) (\(text.count) characters)"
    }

    /// What to tell the user when `text` was cut to the model's context. A long prompt is quoted by its start
    /// and its length (`shownPrompt`), not echoed whole.
    /// `count` > 1: that many prompts were cut, `text` the first of them.
    public static func truncationWarning(_ text: String, count: Int = 1) -> String {
        let quoted = shownPrompt(text, quoted: true)
        if count > 1 {
            return "warning: \(count) prompts are longer than CLIP's 77 tokens, the first \(quoted); only the start of "
                + "each is used"
        }
        return "warning: the prompt \(quoted) is longer than CLIP's 77 tokens; only its start is used"
    }

    public static let randomWarning =
        "this model has RANDOM weights (made by `clipcam model random`): scores are meaningless"

    /// The projected image embedding of a BGR frame, before normalisation.
    public func imageEmbedding(_ frame: Frame) -> [Float] {
        preprocess(frame)
        return encodePreprocessed()
    }

    /// Resizes, crops and normalises a frame into the engine's pixel buffer (the first half of `imageEmbedding`).
    public func preprocess(_ frame: Frame) {
        frame.bgr.withUnsafeBufferPointer { bgr in
            pixels.withUnsafeMutableBufferPointer { px in
                preprocessor.preprocess(
                    bgr: bgr.baseAddress!, width: frame.width, height: frame.height, rowBytes: frame.width * 3,
                    into: px.baseAddress!, workspace: workspace)
            }
        }
    }

    /// Encodes the pixel buffer filled by `preprocess` (the second half of `imageEmbedding`).
    public func encodePreprocessed() -> [Float] {
        pixels.withUnsafeBufferPointer { px in
            embedding.withUnsafeMutableBufferPointer { out in
                model.encodeImage(pixels: px.baseAddress!, into: out.baseAddress!)
            }
        }
        return embedding
    }

    /// `encodePreprocessed`, returning the seconds spent in each stage of the encoder instead.
    public func encodePreprocessedTimed() -> [EncoderStage: Double] {
        pixels.withUnsafeBufferPointer { px in
            embedding.withUnsafeMutableBufferPointer { out in
                model.encodeImageTimed(pixels: px.baseAddress!, into: out.baseAddress!)
            }
        }
    }

    /// The projected text embedding of a prompt, before normalisation, with its tokenization.
    public func textEmbedding(_ text: String) -> (embedding: [Float], tokens: TokenizedText) {
        let tokens = tokenizer.tokenize(text, contextLength: model.configuration.text.maxPositionEmbeddings)
        return (model.encodeText(ids: tokens.ids), tokens)
    }

    /// The L2-normalised embedding of a prompt, ready for cosines.
    public func embedPrompt(_ text: String) -> PromptEmbedding {
        let (raw, tokens) = textEmbedding(text)
        return PromptEmbedding(
            text: text, embedding: Scoring.l2Normalized(raw), tokenCount: tokens.count, truncated: tokens.truncated)
    }
}
