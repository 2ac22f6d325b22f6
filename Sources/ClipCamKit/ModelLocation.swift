import CLIPModel
import CLIPTokenizer
import Foundation
import SafeFiles

/// Where clipcam looks for its CLIP model folder.
public enum ModelLocation {
    /// The environment variable that overrides the default model folder.
    public static let environmentVariable = "CLIPCAM_MODEL"
    /// The Hugging Face repository `clipcam model fetch` downloads by default.
    public static let defaultRepository = "openai/clip-vit-base-patch32"

    /// `~/.cache/clipcam`, or `$XDG_CACHE_HOME/clipcam`.
    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("clipcam")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/clipcam")
    }

    /// The name of the default model folder inside the cache folder.
    public static let defaultFolderName = "clip-vit-base-patch32"

    /// Where the model is looked for when neither --model nor the environment names one, as the rule reads (for
    /// help texts, which must not show the values of this run's environment as if they were built in).
    public static let defaultDirectoryRule =
        "$\(environmentVariable) when set, else ~/.cache/clipcam/\(defaultFolderName) "
        + "($XDG_CACHE_HOME/clipcam/\(defaultFolderName) when XDG_CACHE_HOME is set)"

    /// `$CLIPCAM_MODEL`, else `~/.cache/clipcam/clip-vit-base-patch32`.
    public static var defaultDirectory: URL {
        if let dir = SystemPath(environment: environmentVariable) {
            return URL(fileURLWithPath: (dir.expandingTilde().openableOrShownName))
        }
        return cacheDirectory.appendingPathComponent(defaultFolderName)
    }

    /// Where the no-model hint suggests writing a random model: a folder of its own in the cache, never the folder
    /// the real model belongs in (a random model there would later pass for the real one).
    public static var suggestedRandomDirectory: URL {
        cacheDirectory.appendingPathComponent("random-vit-b-32")
    }

    /// What the no-model hint suggests for a random model: `.existing` when `suggestedRandomDirectory` already holds
    /// a model (to be named with --model), else `.write` with a folder `clipcam model random` would write: the
    /// suggested one, or when something else is there, the first free `random-vit-b-32-N` beside it.
    public enum RandomSuggestion: Equatable {
        case existing(URL)
        case write(URL)
    }

    public static var randomSuggestion: RandomSuggestion {
        let suggested = suggestedRandomDirectory
        if holdsModel(suggested) { return .existing(suggested) }
        var candidate = suggested
        var number = 2
        while FileKind.of(SystemPath(candidate.path)) != .missing {
            if holdsModel(candidate) { return .existing(candidate) }
            candidate = suggested.deletingLastPathComponent().appendingPathComponent(
                suggested.lastPathComponent + "-\(number)")
            number += 1
        }
        return .write(candidate)
    }

    /// Whether `directory` is a folder holding the four files of a model.
    static func holdsModel(_ directory: URL) -> Bool {
        FileKind.of(SystemPath(directory.path)) == .directory
            && requiredFiles.allSatisfy {
                FileKind.of(SystemPath(directory.appendingPathComponent($0).path)) == .regular
            }
    }

    /// The folder CLIP's real BPE vocabulary is kept in by `scripts/fetch-vocab` (`$CLIPCAM_VOCAB_DIR`).
    public static var vocabularyDirectory: URL {
        if let dir = SystemPath(environment: "CLIPCAM_VOCAB_DIR") {
            return URL(fileURLWithPath: dir.expandingTilde().openableOrShownName)
        }
        return cacheDirectory.appendingPathComponent("clip-vocab")
    }

    /// The files a model folder must hold.
    public static let requiredFiles = ["config.json", "model.safetensors", "vocab.json", "merges.txt"]

    /// Checks that `directory` is a model folder before anything is loaded, so that a missing model gets
    /// a message that says how to get one rather than a file error.
    public static func check(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw ModelLocationError.missing(directory) }
        // A folder this user cannot list or enter would look empty: say what is wrong instead.
        guard access(directory.path, R_OK | X_OK) == 0 else { throw ModelLocationError.unreadable(directory) }
        let missing = requiredFiles.filter {
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
        if !missing.isEmpty { throw ModelLocationError.incomplete(directory, missing: missing) }
    }

    /// Checks the tokenizer read from a model folder against the folder's config.json: one token per row of the
    /// token embedding (`vocab_size`), and the start and end tokens the ids the model expects (`bos_token_id`,
    /// `eos_token_id`; under transformers' legacy rule, `eos_token_id` 2, the model pools at the largest id, which
    /// must then be <|endoftext|>). Throws `ModelFolderError`.
    public static func checkTokenizer(
        _ tokenizer: CLIPTokenizer, against configuration: CLIPConfiguration, in directory: URL
    ) throws {
        let text = configuration.text
        guard tokenizer.vocabularySize == text.vocabSize else {
            throw ModelFolderError.vocabularySize(
                folder: directory.path, tokens: tokenizer.vocabularySize, configured: text.vocabSize,
                assumption: configuration.assumption(for: ["text_config.vocab_size"]))
        }
        if text.poolsAtLargestID {
            guard Int(tokenizer.endToken) == tokenizer.vocabularySize - 1 else {
                throw ModelFolderError.legacyEndToken(
                    folder: directory.path, endID: Int(tokenizer.endToken), largest: tokenizer.vocabularySize - 1)
            }
            return
        }
        for (token, id, key, configured) in [
            ("<|startoftext|>", tokenizer.startToken, "bos_token_id", text.bosTokenID),
            ("<|endoftext|>", tokenizer.endToken, "eos_token_id", text.eosTokenID),
        ] where Int(id) != configured {
            throw ModelFolderError.specialToken(
                folder: directory.path, token: token, vocabularyID: Int(id), key: "text_config." + key,
                configured: configured, assumption: configuration.assumption(for: ["text_config." + key]))
        }
    }

    /// Everything `ClipEngine` checks before it builds a model, without building it: the folder holds the four
    /// files, config.json is valid and within bounds, the tokenizer loads and fits config.json, and every tensor of
    /// model.safetensors is there with its shape. For a folder just downloaded or written, before it is put in place.
    public static func verifyFolder(_ directory: URL) throws {
        try check(directory)
        let configuration = try CLIPConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        let tokenizer = try CLIPTokenizer(directory: directory)
        try checkTokenizer(tokenizer, against: configuration, in: directory)
        try CLIPModel.verifyWeights(directory: directory, configuration: configuration)
    }
}

/// A model folder whose vocabulary files do not fit its config.json.
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
    /// `assumption`: why the configured value is a default (`CLIPConfiguration.assumption`).
    case vocabularySize(folder: String, tokens: Int, configured: Int, assumption: String? = nil)
    case specialToken(
        folder: String, token: String, vocabularyID: Int, key: String, configured: Int, assumption: String? = nil)
    case legacyEndToken(folder: String, endID: Int, largest: Int)

    public var description: String {
        let advice =
            "the vocabulary files and the model do not belong together; copy vocab.json and merges.txt "
            + "from the model's own repository"
        switch self {
        case .vocabularySize(let folder, let tokens, let configured, let assumption):
            let given =
                assumption.map { "\(folder)/\($0) (text_config.vocab_size \(configured))" }
                ?? "\(folder)/config.json's text_config.vocab_size is \(configured)"
            return "\(folder)/vocab.json holds \(tokens) tokens, but \(given): \(advice)"
        case .specialToken(let folder, let token, let id, let key, let configured, let assumption):
            let given =
                assumption.map { "\(folder)/\($0) (\(key) \(configured))" }
                ?? "\(folder)/config.json's \(key) is \(configured)"
            return "\(folder)/vocab.json gives \(token) the id \(id), but \(given): \(advice)"
        case .legacyEndToken(let folder, let endID, let largest):
            return "\(folder)/config.json's text_config.eos_token_id is 2, so the model pools at the largest token "
                + "id (transformers' legacy rule), but \(folder)/vocab.json gives <|endoftext|> the id \(endID), not "
                + "the largest, \(largest): \(advice)"
        }
    }
}

public enum ModelLocationError: Error, CustomStringConvertible {
    case missing(URL)
    case incomplete(URL, missing: [String])
    case unreadable(URL)

    public var description: String {
        switch self {
        case .unreadable(let dir):
            return "no permission to read the model folder \(dir.path); check its permissions (ls -ld)"
        case .missing(let dir):
            let random: String
            switch ModelLocation.randomSuggestion {
            case .existing(let folder):
                random = """
                    To try clipcam without the real weights, use the random model in \(folder.path): \
                    `--model \(folder.path)` (or `export \(ModelLocation.environmentVariable)=\(folder.path)`); \
                    its scores are meaningless.
                    """
            case .write(let folder):
                random = """
                    To try clipcam without the real weights, write a random model into a folder of its own and name \
                    it: `clipcam model random --shape vit-b-32 --out \(folder.path)`, then \
                    `--model \(folder.path)` (or `export \(ModelLocation.environmentVariable)=\(folder.path)`); \
                    its scores are meaningless.
                    """
            }
            return """
                no CLIP model at \(dir.path).
                Download OpenAI's ViT-B/32 there with `clipcam model fetch --out \(dir.path)` (needs internet, \
                about 600 MB), or point --model or $\(ModelLocation.environmentVariable) at a Hugging Face CLIP \
                folder (config.json, model.safetensors, vocab.json, merges.txt).
                \(random)
                """
        case .incomplete(let dir, let missing):
            return """
                the model folder \(dir.path) lacks \(missing.joined(separator: ", ")). \
                A CLIP model folder holds \(ModelLocation.requiredFiles.joined(separator: ", ")); \
                fetch it again with `clipcam model fetch --out \(dir.path) --force`.
                """
        }
    }
}
