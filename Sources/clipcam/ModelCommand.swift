import ArgumentParser
import CLIPModel
import ClipCamKit
import Foundation
import SafeFiles

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
                into a hidden folder beside --out, checks that they load as a CLIP model, and only then moves them \
                into place, so no half-written model is ever left behind. $HF_ENDPOINT names another hub or mirror. \
                \(replaceRule)
                """
        )

        @Option(
            help: ArgumentHelp(
                "Where to put the model folder.", discussion: "Default: \(ModelLocation.defaultDirectoryRule).",
                valueName: "dir"))
        var out: String?
        @Option(help: "The Hugging Face repository.") var repo = ModelLocation.defaultRepository
        @Option(help: "The revision (branch, tag or commit).") var revision = "main"
        @Flag(help: "Replace an existing model folder (one holding a model and nothing else).") var force = false

        func validate() throws {
            try checkNotEmpty([("--out", out)])
            // A Hugging Face repository id: OWNER/NAME of letters, digits, '-', '_' and '.', never '..'.
            let isName = { (part: Substring) in
                !part.isEmpty && part != "." && part != ".."
                    && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            }
            let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), parts.allSatisfy(isName) else {
                throw ValidationError(
                    "--repo takes a Hugging Face repository id such as openai/clip-vit-base-patch32; got '\(repo)'")
            }
            let revisionParts = revision.split(separator: "/", omittingEmptySubsequences: false)
            guard revisionParts.allSatisfy(isName) else {
                throw ValidationError("--revision takes a branch, tag or commit such as main; got '\(revision)'")
            }
        }

        func run() throws {
            let destination = out.map(userPath) ?? SystemPath(ModelLocation.defaultDirectory.path)
            let fetcher = ModelFetcher(repository: repo, revision: revision)
            do {
                try fetcher.fetch(to: destination, force: force) { printError($0) }
            } catch let error as ModelInstallError {
                guard case .interrupted = error else { throw error }
                printError("\(error)")
                throw ExitCode(130)
            }
            print("CLIP model \(repo) is ready in \(destination)")
        }
    }

    /// What --force does, for the help of both commands that write model folders.
    static let replaceRule = """
        An existing --out is replaced only with --force, and only when it is a folder holding a CLIP model and \
        nothing else (\(ModelInstaller.replaceableNames.sorted().joined(separator: ", "))); the current folder, \
        the home folder and the folders holding them are never replaced. The old model is removed only once the \
        new one is in place.
        """

    struct Random: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a CLIP model folder with seeded random weights, for benchmarks and demos.",
            discussion: """
                The model has the shape of a real CLIP (vit-b-32, vit-b-16) or a small one (tiny), so it runs at \
                the real model's speed, but its scores are MEANINGLESS: its config.json says it is random and \
                every command that loads it prints a warning. The vocabulary (vocab.json, merges.txt) is copied \
                from --vocab (default: $CLIPCAM_VOCAB_DIR when set, else ~/.cache/clipcam/clip-vocab, written by \
                scripts/fetch-vocab). The model is written into a hidden folder beside --out and moved into place \
                when complete; of two runs writing the same --out at once, one succeeds and the other fails. \
                \(replaceRule)
                """
        )

        @Option(help: "The model shape: \(RandomModel.Shape.allCases.map(\.rawValue).joined(separator: ", ")).")
        var shape: RandomModel.Shape = .vitB32
        @Option(
            parsing: .unconditional,
            help: "The random seed, 0–18446744073709551615; the same seed writes the same weights.",
            transform: Random.parseSeed)
        var seed: UInt64 = 0

        static func parseSeed(_ text: String) throws -> UInt64 {
            guard let seed = UInt64(text) else {
                throw ValidationError("--seed takes a whole number from 0 to \(UInt64.max); got '\(text)'")
            }
            return seed
        }
        @Option(help: ArgumentHelp("The folder to write.", valueName: "dir")) var out: String
        @Option(help: ArgumentHelp("The folder holding CLIP's vocab.json and merges.txt.", valueName: "dir"))
        var vocab: String?
        @Flag(help: "Replace an existing model folder (one holding a model and nothing else).") var force = false

        func validate() throws {
            try checkNotEmpty([("--out", out), ("--vocab", vocab)])
        }

        func run() throws {
            let destination = userPath(out)
            let vocabularyPath = vocab.map(userPath)
            let vocabulary =
                try vocabularyPath.map { URL(fileURLWithPath: try $0.openableName(role: "vocabulary folder")) }
                ?? ModelLocation.vocabularyDirectory
            let shownVocabulary = vocabularyPath?.description ?? vocabulary.path
            for file in ["vocab.json", "merges.txt"]
            where FileKind.of(SystemPath(vocabulary.appendingPathComponent(file).path)) == .missing {
                throw CLIError(
                    "no \(file) in \(shownVocabulary): write CLIP's vocabulary there with scripts/fetch-vocab "
                        + "(or run scripts/setup), or pass --vocab DIR")
            }
            let installer = try ModelInstaller(destination: destination, force: force)
            var bar: ProgressBar?
            do {
                try installer.install(log: printError) { work in
                    try RandomModel.writeFolder(
                        shape: shape, seed: seed, into: work.folder, shownAs: work.shownAs, vocabulary: vocabulary
                    ) { done, total in
                        try work.checkInterrupt()
                        if bar == nil { bar = ProgressBar(label: "model.safetensors", total: Int64(total)) }
                        bar?.update(Int64(done))
                        if done == total { bar?.finish(Int64(done)) }
                    }
                }
            } catch let error as ModelInstallError {
                guard let signal = installer.interruptingSignal else { throw error }
                printError("\(error)")
                throw ExitCode(128 + signal)
            }
            print("wrote a RANDOM \(shape.rawValue) CLIP model (seed \(seed)) to \(destination)")
            printError("warning: \(ClipEngine.randomWarning)")
        }
    }

    struct Info: ParsableCommand, WholeNumberOptions {
        static let wholeNumberOptions = ModelOptions.wholeNumberOptions
        static let configuration = CommandConfiguration(
            abstract: "Describe a model folder: shapes, activation, weights.")

        @OptionGroup var model: ModelOptions

        func run() throws {
            let engine = try model.loadEngine()
            let c = engine.model.configuration
            print("model: \(model.shownDirectory)\(engine.isRandom ? "  (RANDOM weights)" : "")")
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

/// A path from the command line as bytes (those of the argument as typed, even when they are not UTF-8: start-up
/// records them, see Entry.swift), with a leading `~` or `~/` standing for the home folder.
func userPath(_ text: String) -> SystemPath {
    SystemPath(text).expandingTilde()
}
