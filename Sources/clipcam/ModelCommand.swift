import ArgumentParser
import CLIPModel
import ClipCamKit
import Foundation

struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Get, make or inspect CLIP model folders.",
        subcommands: [Fetch.self, Random.self, Info.self]
    )

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Download a CLIP model folder from the Hugging Face hub (default \(ModelLocation.defaultRepository)).",
            discussion: """
                Downloads config.json, model.safetensors, vocab.json and merges.txt (about 600 MB for ViT-B/32) \
                into a temporary folder, checks that they load as a CLIP model, and only then moves them into \
                place, so no half-written model is ever left behind. $HF_ENDPOINT names another hub or mirror.
                """
        )

        @Option(help: ArgumentHelp("Where to put the model folder.", valueName: "dir"))
        var out: String?
        @Option(help: "The Hugging Face repository.") var repo = ModelLocation.defaultRepository
        @Option(help: "The revision (branch, tag or commit).") var revision = "main"
        @Flag(help: "Replace an existing folder.") var force = false

        func run() throws {
            let destination =
                out.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) }
                ?? ModelLocation.defaultDirectory
            let fetcher = ModelFetcher(repository: repo, revision: revision)
            try fetcher.fetch(to: destination, force: force) { printError($0) }
            print("CLIP model \(repo) is ready in \(destination.path)")
        }
    }

    struct Random: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a CLIP model folder with seeded random weights, for benchmarks and demos.",
            discussion: """
                The model has the shape of a real CLIP (vit-b-32, vit-b-16) or a small one (tiny), so it runs at \
                the real model's speed, but its scores are MEANINGLESS: its config.json says it is random and \
                every command that loads it prints a warning. The vocabulary (vocab.json, merges.txt) is copied \
                from --vocab (default \(ModelLocation.vocabularyDirectory.path), written by scripts/fetch-vocab).
                """
        )

        @Option(help: "The model shape: \(RandomModel.Shape.allCases.map(\.rawValue).joined(separator: ", ")).")
        var shape: RandomModel.Shape = .vitB32
        @Option(help: "The random seed; the same seed writes the same weights.") var seed: UInt64 = 0
        @Option(help: ArgumentHelp("The folder to write.", valueName: "dir")) var out: String
        @Option(help: ArgumentHelp("The folder holding CLIP's vocab.json and merges.txt.", valueName: "dir"))
        var vocab: String?
        @Flag(help: "Replace an existing folder.") var force = false

        func run() throws {
            let destination = URL(fileURLWithPath: (out as NSString).expandingTildeInPath)
            if FileManager.default.fileExists(atPath: destination.path) {
                guard force else {
                    throw CLIError("\(destination.path) already exists; pass --force to replace it")
                }
            }
            let vocabulary =
                vocab.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) }
                ?? ModelLocation.vocabularyDirectory
            for file in ["vocab.json", "merges.txt"]
            where !FileManager.default.fileExists(atPath: vocabulary.appendingPathComponent(file).path) {
                throw CLIError(
                    "no \(file) in \(vocabulary.path): write CLIP's vocabulary there with scripts/fetch-vocab "
                        + "(or run scripts/setup), or pass --vocab DIR")
            }
            // Write beside the target and swap it in only when complete, so --force never loses the old
            // folder to a failed write.
            let staging = destination.deletingLastPathComponent()
                .appendingPathComponent(".\(destination.lastPathComponent).new-\(getpid())")
            var bar: ProgressBar?
            try RandomModel.write(shape: shape, seed: seed, to: staging, vocabulary: vocabulary) { done, total in
                if bar == nil { bar = ProgressBar(label: "model.safetensors", total: Int64(total)) }
                bar?.update(Int64(done))
                if done == total { bar?.finish(Int64(done)) }
            }
            if FileManager.default.fileExists(atPath: destination.path) {
                try FileManager.default.removeItem(at: destination)
            }
            try FileManager.default.moveItem(at: staging, to: destination)
            print("wrote a RANDOM \(shape.rawValue) CLIP model (seed \(seed)) to \(destination.path)")
            printError("warning: \(ClipEngine.randomWarning)")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model folder: shapes, activation, weights.")

        @OptionGroup var model: ModelOptions

        func run() throws {
            let engine = try model.loadEngine()
            let c = engine.model.configuration
            print("model: \(engine.directory.path)\(engine.isRandom ? "  (RANDOM weights)" : "")")
            print(
                "vision: \(c.vision.imageSize) px, patch \(c.vision.patchSize), width \(c.vision.hiddenSize), "
                    + "\(c.vision.numHiddenLayers) layers, \(c.vision.numAttentionHeads) heads, \(c.vision.hiddenAct)")
            print(
                "text: width \(c.text.hiddenSize), \(c.text.numHiddenLayers) layers, \(c.text.numAttentionHeads) heads, "
                    + "context \(c.text.maxPositionEmbeddings), vocabulary \(engine.tokenizer.vocabularySize), \(c.text.hiddenAct)"
            )
            print("projection: \(c.projectionDim), logit scale \(engine.logitScale) (×\(exp(engine.logitScale)))")
        }
    }
}

extension RandomModel.Shape: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
