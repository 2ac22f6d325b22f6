import Foundation

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

    /// `$CLIPCAM_MODEL`, else `~/.cache/clipcam/clip-vit-base-patch32`.
    public static var defaultDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment[environmentVariable], !dir.isEmpty {
            return URL(fileURLWithPath: (dir as NSString).expandingTildeInPath)
        }
        return cacheDirectory.appendingPathComponent("clip-vit-base-patch32")
    }

    /// The folder CLIP's real BPE vocabulary is kept in by `scripts/fetch-vocab` (`$CLIPCAM_VOCAB_DIR`).
    public static var vocabularyDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["CLIPCAM_VOCAB_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: (dir as NSString).expandingTildeInPath)
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
        let missing = requiredFiles.filter {
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
        if !missing.isEmpty { throw ModelLocationError.incomplete(directory, missing: missing) }
    }
}

public enum ModelLocationError: Error, CustomStringConvertible {
    case missing(URL)
    case incomplete(URL, missing: [String])

    public var description: String {
        switch self {
        case .missing(let dir):
            return """
                no CLIP model at \(dir.path).
                Download OpenAI's ViT-B/32 there with `clipcam model fetch` (needs internet, about 600 MB), \
                or point --model or $\(ModelLocation.environmentVariable) at a Hugging Face CLIP folder \
                (config.json, model.safetensors, vocab.json, merges.txt).
                To try clipcam without the real weights: `clipcam model random --shape vit-b-32 --out \(dir.path)` \
                (random weights: scores are meaningless).
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
