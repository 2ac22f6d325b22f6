import ArgumentParser
import CLIPModel
import Classifier
import ClipCamKit
import Foundation

struct ModelOptions: ParsableArguments {
    /// The thread counts --threads accepts: more than the cores of any machine clipcam runs on, and few enough that
    /// the threads and their per-thread attention buffers stay bounded.
    static let threadRange = 1...256
    /// The whole-number options of a command that loads a model (see `WholeNumberOptions`).
    static let wholeNumberOptions = ["--threads": WholeNumberBound(range: threadRange, unit: "threads")]

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The CLIP model folder (config.json, model.safetensors, vocab.json, merges.txt).",
            discussion: "Default: \(ModelLocation.defaultDirectoryRule).",
            valueName: "dir"))
    var model: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Threads each image or prompt encoding is shared among, "
                + "\(ModelOptions.threadRange.lowerBound)–\(ModelOptions.threadRange.upperBound) "
                + "(default: every core, here \(CLIPModel.defaultThreads))."))
    var threads: Int?

    @Option(
        help: ArgumentHelp(
            "The image encoder's arithmetic: fp32 (exact), int16 (16-bit integers, cosine to fp32 ≥ 0.99999) or "
                + "int8 (8-bit integers, fastest; cosine to fp32 ≥ 0.999 on ViT-B models, less when attention is "
                + "very sharp).",
            discussion: "Both integer paths quantise the weights per output channel and the activations per token "
                + "and multiply them with exact integer dot products. int16: 16-bit integers of about 11 bits and a "
                + "sign each. int8: signed bytes for the weights, unsigned bytes with a zero point per token for "
                + "the activations (ONNX Runtime's dynamic int8 scheme, finer grained), attention's two products "
                + "included; its patch embedding runs in 16-bit integers. The projection and the prompts are "
                + "always fp32. Kernels: AVX-512 VNNI where the CPU has it, else AVX2, with the "
                + "same integer results (CLIPCAM_INT8_KERNEL=avx2 forces the latter; int8 then runs at about "
                + "int16's speed). Until the 8-bit path came, int8 named what is now int16."))
    var precision: Precision = .fp32

    func validate() throws {
        try checkNotEmpty([("--model", model)])
        if let threads { try check(threads, option: "--threads", in: Self.wholeNumberOptions) }
    }

    /// The model folder as a name Foundation can open: --model (its bytes as typed, through a /proc/self/fd name
    /// when they are not UTF-8), else the default folder.
    func directory() throws -> URL {
        guard let model else { return ModelLocation.defaultDirectory }
        return URL(fileURLWithPath: try userPath(model).openableName(role: "model folder"))
    }

    /// The model folder as the user gave it, for messages.
    var shownDirectory: String {
        model.map { userPath($0).description } ?? ModelLocation.defaultDirectory.path
    }

    /// Loads the engine, warning on standard error when the weights are random. `textOnly`: the command encodes
    /// text alone, which is always fp32, so a --precision for the image encoder is ignored with a warning.
    func loadEngine(textOnly: Bool = false) throws -> ClipEngine {
        var precision = precision
        if textOnly && precision != .fp32 {
            printError(
                "warning: --precision \(precision.rawValue) does nothing for text: the text encoder is always fp32")
            precision = .fp32
        }
        let engine = try ClipEngine(
            directory: try directory(), threads: threads ?? CLIPModel.defaultThreads, precision: precision)
        if engine.isRandom { printError("warning: \(ClipEngine.randomWarning)") }
        if precision == .int8, let note = engine.model.integerKernel.int8Warning { printError("warning: \(note)") }
        return engine
    }
}

struct RangeOption: ParsableArguments {
    @Option(
        name: .long,
        parsing: .unconditional,  // so that a negative LOW ("-0.1,0.3") is a value, not an option
        help: ArgumentHelp(
            "The cosine range shown as 0–100 %, as LOW,HIGH (each between -1 and 1).", valueName: "low,high"),
        transform: RangeOption.parse)
    var range: ScoreRange = .heuristic

    static func parse(_ text: String) throws -> ScoreRange {
        // Read as Doubles, so that a number too large for a Float (1e39) is a number out of range, not a malformed
        // one.
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], !low.isNaN, !high.isNaN else {
            throw ValidationError("--range takes two numbers, LOW,HIGH (e.g. 0.15,0.40); got '\(text)'")
        }
        guard (-1...1).contains(low), (-1...1).contains(high) else {
            throw ValidationError("--range takes cosines, between -1 and 1; got '\(text)'")
        }
        guard Float(high) > Float(low) else {
            throw ValidationError("--range needs LOW < HIGH; got '\(text)'")
        }
        return ScoreRange(low: Float(low), high: Float(high))
    }
}

extension ClipEngine {
    /// Embeds prompts, warning once (naming the first and the count) about those longer than the model's context.
    func embedPromptsWarning(_ texts: [String]) -> [PromptEmbedding] {
        let prompts = texts.map(embedPrompt)
        warnIfTruncated(zip(texts, prompts).filter { $0.1.truncated }.map(\.0))
        return prompts
    }
}

/// Warns on standard error, in one line, that `texts` were cut to CLIP's context.
func warnIfTruncated(_ texts: [String]) {
    if let first = texts.first { printError(ClipEngine.truncationWarning(first, count: texts.count)) }
}

/// `prompts` with repeats dropped, warning about them.
func uniquePrompts(_ prompts: [String]) -> [String] {
    let (kept, repeated) = PromptFile.unique(prompts)
    if let first = repeated.first.map({ ClipEngine.shownPrompt($0, quoted: true) }) {
        printError(
            "warning: "
                + (repeated.count == 1
                    ? "the prompt \(first) is given more than once; it is scored once"
                    : "\(repeated.count) prompts are given more than once (the first: \(first)); each is scored once")
        )
    }
    return kept
}
