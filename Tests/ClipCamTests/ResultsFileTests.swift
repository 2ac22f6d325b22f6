import Foundation
import Glibc
import Testing

/// Point 4 of "nothing lost, nothing crashes": a failed or concurrent run never damages a results file.
@Suite struct ResultsFileTests {
    static let model = Repo.model("tiny-quickgelu-f32").path

    /// A results file from an earlier run: 31 lines.
    static func earlierResults(in folder: URL, name: String = "results.jsonl") throws -> (URL, Data) {
        let url = folder.appendingPathComponent(name)
        let text = (0..<31).map { "{\"frame\":\($0),\"label\":\"from the run before\"}\n" }.joined()
        try Data(text.utf8).write(to: url)
        return (url, Data(text.utf8))
    }

    /// A source that cannot be read (missing, or not an image at all) leaves the results file byte for byte.
    @Test(arguments: ["missing.png", "not-an-image.png", "missing-folder/"])
    func aRunWhoseSourceFailsLeavesTheFileAsItWas(source: String) throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("this is text".utf8).write(to: folder.appendingPathComponent("not-an-image.png"))
        let (jsonl, before) = try Self.earlierResults(in: folder)
        let (csv, csvBefore) = try Self.earlierResults(in: folder, name: "results.csv")
        let result = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--jsonl", jsonl.path, "--csv", csv.path,
            "--source", folder.appendingPathComponent(source).path,
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(try Data(contentsOf: jsonl) == before)
        #expect(try Data(contentsOf: csv) == csvBefore)
    }

    /// A new results file of a run that produced nothing is not left behind, empty.
    @Test func aRunThatProducesNothingLeavesNoNewFile() throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        let jsonl = folder.appendingPathComponent("new.jsonl")
        let result = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--jsonl", jsonl.path,
            "--source", folder.appendingPathComponent("missing.mp4").path,
        ])
        #expect(result.status == 1)
        #expect(!FileManager.default.fileExists(atPath: jsonl.path))
    }

    @Test func oneFileForTwoOutputsIsRefused() throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (jsonl, before) = try Self.earlierResults(in: folder)
        // The same file under another spelling, and through a link.
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("link.csv").path, withDestinationPath: jsonl.path)
        for other in [jsonl.path, folder.path + "/./results.jsonl", folder.appendingPathComponent("link.csv").path] {
            let result = try clipcam([
                "run", "--headless", "--model", Self.model, "--prompt", "x", "--source", "synthetic",
                "--frames", "2", "--jsonl", jsonl.path, "--csv", other,
            ])
            #expect(result.status == 64)
            #expect(result.stderr.contains("--jsonl and --csv both write"), "\(result.stderr)")
            #expect(try Data(contentsOf: jsonl) == before)
        }
        let both = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "2",
            "--jsonl", "-", "--csv", "-",
        ])
        #expect(both.status == 64)
        #expect(both.stderr.contains("--jsonl and --csv both write standard output"), "\(both.stderr)")
    }

    @Test func anOutputThatIsAnInputIsRefused() throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("prompts.txt")
        let text = Data("a cat\na dog\n".utf8)
        try text.write(to: prompts)
        let result = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompts", prompts.path, "--source", "synthetic",
            "--frames", "2", "--csv", prompts.path,
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("is a file --prompts reads"), "\(result.stderr)")
        #expect(try Data(contentsOf: prompts) == text)
        let config = Repo.model("tiny-quickgelu-f32").appendingPathComponent("config.json")
        let configBefore = try Data(contentsOf: config)
        let overModel = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "2",
            "--jsonl", config.path,
        ])
        #expect(overModel.status == 64)
        #expect(overModel.stderr.contains("is a file --model reads"), "\(overModel.stderr)")
        #expect(try Data(contentsOf: config) == configBefore)
    }

    /// A second run writing the file another run is writing is refused before it changes a byte; the first run's
    /// lines stay whole.
    @Test func aSecondRunOnTheSameFileIsRefused() throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("shared.jsonl")
        let first = Process()
        first.executableURL = Repo.executable
        first.arguments = [
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--source", "synthetic:64x48@20",
            "--no-reuse", "--jsonl", output.path,
        ]
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer {
            if first.isRunning { kill(first.processIdentifier, SIGKILL) }
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? Data(contentsOf: output))?.count ?? 0) == 0 { usleep(50_000) }
        let second = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "y", "--source", "synthetic", "--frames", "3",
            "--jsonl", output.path,
        ])
        #expect(second.status == 1)
        #expect(second.stderr.contains("is being written by another clipcam run"), "\(second.stderr)")
        kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        let lines = try jsonLines(text)
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { ($0["scores"] as? [[String: Any]])?.first?["prompt"] as? String == "x" })
    }

    /// A FIFO nobody reads is an error at once, not a run blocked on its first line.
    @Test func aFIFOWithoutAReaderIsRefusedAtOnce() throws {
        let folder = try temporaryFolder("results")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("results.fifo").path
        try #require(mkfifo(fifo, 0o644) == 0)
        let result = try clipcam([
            "run", "--headless", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "2",
            "--jsonl", fifo,
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("is a FIFO (named pipe) that no program is reading"), "\(result.stderr)")
        #expect(result.seconds < 30)
    }
}

/// A results file that cannot grow (a full disk; here a file size limit, `prlimit --fsize`) ends with its last
/// complete line, and the run says why.
@Suite struct ResultsFileFullTests {
    @Test func aFullFileKeepsWholeLines() throws {
        let folder = try temporaryFolder("full")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.jsonl")
        let result = try runProcess(
            URL(fileURLWithPath: "/usr/bin/prlimit"),
            [
                "--fsize=1000", Repo.executable.path, "run", "--headless", "--model",
                Repo.model("tiny-quickgelu-f32").path, "--prompt", "x", "--source", "synthetic:64x48@100",
                "--no-reuse", "--frames", "300", "--jsonl", output.path,
            ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("writing results to \(output.path) failed: File too large"), "\(result.stderr)")
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.hasSuffix("\n"), "the last line was cut: \(text.suffix(80))")
        #expect(!(try jsonLines(text)).isEmpty)
    }
}
