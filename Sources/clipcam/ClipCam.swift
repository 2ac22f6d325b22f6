import ArgumentParser
import ClipCamKit
import Foundation
import SafeFiles

@main
struct ClipCam: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clipcam",
        abstract:
            "Real-time CLIP video classifier: score frames against a prompt, or label them with the best of several.",
        discussion: """
            clipcam runs OpenAI's CLIP on the CPU. It needs a CLIP model folder (Hugging Face layout); \
            by default \(ModelLocation.defaultDirectoryRule) (--model names another). Get one with `clipcam model fetch`, or make a random one for trying things out \
            with `clipcam model random`.
            """,
        subcommands: [
            Run.self, Investigate.self, Cameras.self, EmbedImage.self, EmbedText.self, Score.self, Label.self,
            Model.self, Bench.self, Analyze.self, SearchCommand.self, CacheCommand.self,
        ]
    )

    /// Every error starts "error: ", ArgumentParser's as clipcam's own (and as compilers and git write it), not
    /// ArgumentParser's default "Error: ".
    static var _errorPrefix: String { "error: " }
}

/// Writes to standard error, file names shown as the user typed them (see `PathNames`).
func printError(_ message: String) {
    StandardError.write(PathNames.restore(in: message) + "\n")
}

/// A failure found while running a command (as opposed to a malformed command line): printed without usage.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
