import ArgumentParser
import Capture
import Classifier
import ClipCamKit
import Foundation

struct EmbedImage: ParsableCommand, WholeNumberOptions {
    static let wholeNumberOptions = ModelOptions.wholeNumberOptions
    static let configuration = CommandConfiguration(
        commandName: "embed-image",
        abstract: "Print the CLIP image embedding of each image file as JSON: {\"embeddings\": [[…], …]}.",
        discussion:
            "Images are PNG, JPEG, GIF (first frame), BMP, TIFF (first page), WebP (first frame), PPM/PGM/PBM, QOI or TGA, decoded as the reference (transformers with Pillow) decodes them: EXIF orientation applied, transparency composited onto white; truncated files and images over 178,956,970 pixels are refused. Embeddings are the projected vectors (as Roboflow's API returns them); --normalize scales each to length 1."
    )

    @OptionGroup var model: ModelOptions
    @Flag(help: "L2-normalise each embedding.") var normalize = false
    @Argument(help: ArgumentHelp("Image files.", valueName: "file")) var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one image file") }
    }

    func run() throws {
        let engine = try model.loadEngine()
        var rows: [String] = []
        for file in files {
            let frame = try ImageFile.load(file)
            let raw = engine.imageEmbedding(frame)
            rows.append(JSONText.array(normalize ? Scoring.l2Normalized(raw) : raw))
        }
        print("{\"embeddings\": [" + rows.joined(separator: ", ") + "]}")
    }
}

struct EmbedText: ParsableCommand, WholeNumberOptions {
    static let wholeNumberOptions = ModelOptions.wholeNumberOptions
    static let configuration = CommandConfiguration(
        commandName: "embed-text",
        abstract: "Print the CLIP text embedding of each text as JSON: {\"embeddings\": [[…], …]}.",
        discussion:
            "Texts longer than CLIP's 77 tokens are cut (a warning says so). --normalize scales each embedding to length 1."
    )

    @OptionGroup var model: ModelOptions
    @Flag(help: "L2-normalise each embedding.") var normalize = false
    @Argument(help: ArgumentHelp("Texts to embed (quote each one).", valueName: "text")) var texts: [String]

    func validate() throws {
        if texts.isEmpty { throw ValidationError("give at least one text") }
        if texts.contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw ValidationError("a text to embed is empty")
        }
    }

    func run() throws {
        let engine = try model.loadEngine(textOnly: true)
        var rows: [String] = []
        var truncated: [String] = []
        for text in texts {
            let (raw, tokens) = engine.textEmbedding(text)
            if tokens.truncated { truncated.append(text) }
            rows.append(JSONText.array(normalize ? Scoring.l2Normalized(raw) : raw))
        }
        warnIfTruncated(truncated)
        print("{\"embeddings\": [" + rows.joined(separator: ", ") + "]}")
    }
}
