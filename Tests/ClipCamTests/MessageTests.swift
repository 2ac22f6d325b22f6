import Foundation
import Testing

/// Point 7 of "nothing lost, nothing crashes": no silent success, no misleading message.
@Suite struct MessageTests {
    static let model = Repo.model("tiny-quickgelu-f32").path

    /// Without a screen SDL would draw into memory: the run showed nothing and exited 0.
    @Test func noDisplayIsAnErrorThatSaysWhatToDo() throws {
        let result = try clipcam(
            ["run", "--model", Self.model, "--prompt", "a cat", "--source", "synthetic", "--frames", "3"],
            unsetting: ["DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("there is no display to show the window on"), "\(result.stderr)")
        #expect(result.stderr.contains("--headless --jsonl -"), "\(result.stderr)")
    }

    /// `run --prompt` several times labels with those prompts; any other option given twice is refused.
    @Test func promptsGivenSeveralTimesAreAllUsed() throws {
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", "a cat", "--prompt", "a dog", "--source", "synthetic",
            "--headless", "--jsonl", "-", "--frames", "2", "--fast",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        for line in try jsonLines(result.stdout) {
            let prompts = (line["scores"] as? [[String: Any]])?.compactMap { $0["prompt"] as? String }
            #expect(prompts == ["a cat", "a dog"])
        }
    }

    @Test(arguments: [
        (
            ["score", "--prompt", "a cat", "--prompt", "a dog", "x.png"],
            "--prompt was given twice (--prompt \"a cat\", then --prompt \"a dog\"); give it once"
        ),
        (
            ["run", "--prompt", "x", "--fps", "15", "--fps=30"],
            "--fps was given twice (--fps 15, then --fps=30); give it once"
        ),
        (["run", "--prompt", "x", "--headless", "--headless", "--jsonl", "-"], "--headless was given twice"),
        (["help", "bogus"], "no command 'bogus'; the commands are: run, investigate, cameras, embed-image"),
        (["help", "model", "bogus"], "no command 'bogus'; the commands are: fetch, random, info"),
    ])
    func misleadingCommandLinesAreRefused(arguments: [String], message: String) throws {
        let result = try clipcam(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func helpForARealCommandStillWorks() throws {
        let result = try clipcam(["help", "model", "random"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("seeded random weights"))
    }

    /// A long prompt's warning quotes its start and says how long it is, not the whole text.
    @Test func aLongPromptIsQuotedByItsStart() throws {
        let prompt = String(repeating: "a very long prompt ", count: 530)
        let result = try clipcam(["embed-text", "--model", Self.model, prompt])
        #expect(result.status == 0)
        let warning = try #require(result.stderr.split(separator: "\n").first { $0.contains("longer than CLIP's") })
        #expect(warning.count < 200, "\(warning)")
        #expect(warning.contains("(\(prompt.count) characters)"))
    }

    @Test func aSyntheticSizeOutOfRangeSaysSo() throws {
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--headless", "--jsonl", "-",
            "--source", "synthetic:100000x100000",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("'synthetic:100000x100000': the size 100000x100000 is out of range"),
            "\(result.stderr)")
        #expect(!result.stderr.contains("is not a synthetic source"))
    }
}
