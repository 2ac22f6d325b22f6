import ArgumentParser
import Capture
import Classifier
import ClipCamKit
import Foundation
import SafeFiles

struct Score: ParsableCommand, WholeNumberOptions {
    static let wholeNumberOptions = ModelOptions.wholeNumberOptions
    static let configuration = CommandConfiguration(
        abstract: "Score image files against one prompt: the cosine similarity and the scaled 0–100 % value.",
        discussion: """
            The scaled value maps the cosine range (default 0.15–0.40, --range) to 0–100 %, clamped: CLIP's \
            cosines between an image and a caption rarely leave that range.
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(parsing: .unconditional, help: "What to look for, e.g. \"a coffee cup\".") var prompt: String
    @OptionGroup var range: RangeOption
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Argument(help: ArgumentHelp("Image files.", valueName: "file")) var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one image file") }
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--prompt is empty")
        }
    }

    func run() throws {
        let engine = try model.loadEngine()
        let text = engine.embedPromptsWarning([prompt])[0]
        var results: [(file: String, cosine: Float, percent: Float)] = []
        for file in files {
            let image = Scoring.l2Normalized(engine.imageEmbedding(try ImageFile.load(file)))
            let cosine = Scoring.dot(image, text.embedding)
            results.append((shownFileName(file), cosine, range.range.percent(cosine)))
        }
        if json {
            let rows = results.map {
                "{\"file\": \(JSONText.string($0.file)), \"cosine\": \(JSONText.number($0.cosine)), \"percent\": \(JSONText.number($0.percent))}"
            }
            print(
                """
                {"prompt": \(JSONText.string(prompt)), "range": [\(JSONText.number(range.range.low)), \
                \(JSONText.number(range.range.high))], "results": [\(rows.joined(separator: ", "))]}
                """)
        } else {
            print("prompt: \(ClipEngine.shownPrompt(prompt))")
            let width = results.map(\.file.count).max() ?? 0
            for r in results {
                let name = r.file.padding(toLength: max(width, 4), withPad: " ", startingAt: 0)
                print(
                    "\(name)  cosine \(String(format: "%.4f", r.cosine))  score \(String(format: "%5.1f", r.percent)) %"
                )
            }
        }
    }
}

struct Label: ParsableCommand, WholeNumberOptions {
    static let wholeNumberOptions = ModelOptions.wholeNumberOptions
    static let configuration = CommandConfiguration(
        abstract: "Label image files with the best of several prompts, with softmax probabilities.",
        discussion: """
            --prompts takes a prompt file (one prompt a line, # comments) or the name of a set in Prompts/ \
            (e.g. desk, everyday-objects, person). Probabilities are softmax(exp(logit_scale) × cosine), as CLIP \
            computes them.
            """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: ArgumentHelp("A prompt file or the name of a prompt set.", valueName: "file|name"))
    var prompts: String
    @OptionGroup var range: RangeOption
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Argument(help: ArgumentHelp("Image files.", valueName: "file")) var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one image file") }
        try checkNotEmpty([("--prompts", prompts)] + files.map { ("an image file", $0) })
    }

    func run() throws {
        let texts = uniquePrompts(try PromptFile.load(prompts, limit: Run.maxPrompts))
        let engine = try model.loadEngine()
        let embedded = engine.embedPromptsWarning(texts)
        var lines: [String] = []
        for file in files {
            let image = Scoring.l2Normalized(engine.imageEmbedding(try ImageFile.load(file)))
            let shown = shownFileName(file)
            let cosines = embedded.map { Scoring.dot(image, $0.embedding) }
            let probabilities = Scoring.probabilities(cosines: cosines, logitScale: engine.logitScale)
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            if json {
                let scores = texts.indices.map { i in
                    "{\"prompt\": \(JSONText.string(texts[i])), \"cosine\": \(JSONText.number(cosines[i])), "
                        + "\"percent\": \(JSONText.number(range.range.percent(cosines[i]))), "
                        + "\"probability\": \(JSONText.number(probabilities[i]))}"
                }
                lines.append(
                    "{\"file\": \(JSONText.string(shown)), \"label\": \(JSONText.string(texts[best])), "
                        + "\"probability\": \(JSONText.number(probabilities[best])), \"scores\": [\(scores.joined(separator: ", "))]}"
                )
            } else {
                print(
                    "\(shown): \(ClipEngine.shownPrompt(texts[best]))  (p = \(String(format: "%.3f", probabilities[best])))"
                )
                let order = texts.indices.sorted { probabilities[$0] > probabilities[$1] }
                for i in order {
                    print(
                        "    \(String(format: "%6.3f", probabilities[i]))  \(String(format: "%5.1f", range.range.percent(cosines[i]))) %  \(ClipEngine.shownPrompt(texts[i]))"
                    )
                }
            }
        }
        if json { print("{\"results\": [" + lines.joined(separator: ", ") + "]}") }
    }
}

/// A file name as the output shows it (tables and JSON alike): the bytes of the name as typed, UTF-8 as it is and
/// every byte that is not part of valid UTF-8 as `\xHH` (see `SystemPath.description`), never U+FFFD.
func shownFileName(_ file: String) -> String {
    SystemPath(file).description
}
