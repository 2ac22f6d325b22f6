import Capture
import Foundation
import Glibc
import SafeFiles
import Testing

/// Faults found by trying clipcam as a new user, each as its kind: outputs over special files or inputs, standard
/// streams that fail, interrupted set-up, folders of images with odd entries, options that take negative values.
@Suite struct TryoutTests {
    static let model = Repo.model("tiny-quickgelu-f32").path

    /// --screenshot writes over a regular file or nothing: never a FIFO, a device or a symbolic link (as root it
    /// replaced /dev/full with a PNG).
    @Test func aScreenshotReplacesOnlyARegularFile() throws {
        let folder = try temporaryFolder("shot")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("shot.png").path
        try #require(mkfifo(fifo, 0o644) == 0)
        let target = folder.appendingPathComponent("target.txt")
        try Data("keep me".utf8).write(to: target)
        let link = folder.appendingPathComponent("link.png").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target.path)
        for (path, kind) in [
            (fifo, "a FIFO (named pipe)"), (link, "a symbolic link"), ("/dev/null", "a character device"),
        ] {
            let result = try clipcam(
                [
                    "run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "2",
                    "--screenshot", path,
                ],
                environment: ["SDL_VIDEODRIVER": "offscreen"])
            #expect(result.status == 64, "\(result.stderr)")
            #expect(
                result.stderr.contains("--screenshot \(path) is \(kind); clipcam replaces only a regular file"),
                "\(result.stderr)")
        }
        #expect(FileKind.of(SystemPath(fifo)) == .fifo)
        #expect(try String(contentsOf: target, encoding: .utf8) == "keep me")
        let missing = try clipcam(
            [
                "run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "2",
                "--screenshot", folder.appendingPathComponent("no/such/shot.png").path,
            ],
            environment: ["SDL_VIDEODRIVER": "offscreen"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("which is not an existing folder"), "\(missing.stderr)")
    }

    /// A named prompt set and the images of a source folder are inputs too.
    @Test func outputsOverANamedSetOrAFoldersImageAreRefused() throws {
        let folder = try temporaryFolder("inputs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sets = folder.appendingPathComponent("Prompts")
        try FileManager.default.createDirectory(at: sets, withIntermediateDirectories: true)
        let set = sets.appendingPathComponent("myset.txt")
        try Data("a cat\na dog\n".utf8).write(to: set)
        let images = folder.appendingPathComponent("im")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let image = images.appendingPathComponent("a.png")
        try FileManager.default.copyItem(at: Repo.images.appendingPathComponent("tiny-20x30.png"), to: image)
        let imageBytes = try Data(contentsOf: image)

        let overSet = try clipcam(
            [
                "run", "--model", Self.model, "--prompts", "myset", "--source", "synthetic", "--headless", "--frames",
                "2",
                "--csv", set.path,
            ], environment: ["CLIPCAM_PROMPTS_DIR": sets.path])
        #expect(overSet.status == 64, "\(overSet.stderr)")
        #expect(overSet.stderr.contains("is a file --prompts reads"), "\(overSet.stderr)")
        #expect(try String(contentsOf: set, encoding: .utf8) == "a cat\na dog\n")

        let overImage = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", images.path, "--headless", "--frames", "2",
            "--jsonl", image.path,
        ])
        #expect(overImage.status == 64, "\(overImage.stderr)")
        #expect(overImage.stderr.contains("is a file --source reads"), "\(overImage.stderr)")
        #expect(try Data(contentsOf: image) == imageBytes)

        let twoStdouts = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--headless", "--frames", "2",
            "--jsonl", "-", "--csv", "/dev/stdout",
        ])
        #expect(twoStdouts.status == 64)
        #expect(twoStdouts.stderr.contains("--jsonl and --csv both write"), "\(twoStdouts.stderr)")
    }

    /// A folder of images whose entries include a FIFO named like an image and a name that is not UTF-8: the FIFO
    /// is not an image (it would block), the odd name is read by its bytes.
    @Test func aFolderWithAFIFOAndAnOddNamePlays() throws {
        let folder = try temporaryFolder("folder")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: Repo.images.appendingPathComponent("tiny-20x30.png"), to: folder.appendingPathComponent("a.png"))
        try #require(mkfifo(folder.appendingPathComponent("b.png").path, 0o644) == 0)
        let odd = Array(folder.path.utf8) + Array("/c".utf8) + [0xE9] + Array(".png".utf8)
        try #require(
            write(bytes: odd, Array(try Data(contentsOf: Repo.images.appendingPathComponent("noise-64x48.png")))))
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", folder.path, "--fps", "2", "--headless",
            "--jsonl", "-", "--no-reuse",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("(2 images)"), "\(result.stderr)")
        #expect(try jsonLines(result.stdout).count == 2)
        #expect(result.seconds < 60)
    }

    /// Standard error that cannot be written must not crash clipcam; standard output that cannot be written must
    /// not end in status 0.
    @Test func failingStandardStreams() throws {
        let command = "\(Repo.executable.path) embed-text --model \(Self.model) 'a cat'"
        let closedErr = try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command + " 2>/dev/full >/dev/null"])
        #expect(closedErr.status == 0, "\(closedErr.stderr)")
        let fullOut = try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command + " >/dev/full"])
        #expect(fullOut.status == 1)
        #expect(
            fullOut.stderr.contains("writing to standard output failed: No space left on device"), "\(fullOut.stderr)")
        let noErr = try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command + " 2>&- >/dev/null"])
        #expect(noErr.status == 0, "\(noErr.stderr)")
    }

    /// Ctrl-C while thousands of prompts are embedded ends the run at once (130) and leaves no empty results file.
    @Test func ctrlCWhilePromptsAreEmbedded() throws {
        let folder = try temporaryFolder("embedding")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("many.txt")
        let words = ["red", "blue", "cat", "dog", "street", "car", "tree", "house", "river", "light"]
        let text = (0..<10_000).map { i in
            (0..<60).map { words[($0 * 7 + i) % words.count] }.joined(separator: " ") + " \(i)"
        }.joined(separator: "\n")
        try Data(text.utf8).write(to: prompts)
        let output = folder.appendingPathComponent("new.jsonl")
        let process = Process()
        process.executableURL = Repo.executable
        process.arguments = [
            "run", "--model", Self.model, "--prompts", prompts.path, "--source", "synthetic", "--headless",
            "--jsonl", output.path,
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(1_500_000)
        kill(process.processIdentifier, SIGINT)
        let start = Date()
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
        if FileManager.default.fileExists(atPath: output.path) {
            let written = try String(contentsOf: output, encoding: .utf8)
            #expect(!written.isEmpty, "an empty results file was left behind")
            #expect(written.hasSuffix("\n"))
        }
    }

    /// Named prompt sets are found from the executable's own folder when clipcam is run through PATH.
    @Test func promptSetsAreFoundThroughPATH() throws {
        let folder = try temporaryFolder("path")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "cd '\(folder.path)' && PATH='\(Repo.executable.deletingLastPathComponent().path)':$PATH clipcam label --model '\(Self.model)' --prompts desk '\(Repo.images.appendingPathComponent("tiny-20x30.png").path)'",
            ])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func repeatedAndLongPromptsAreReportedOnce() throws {
        let long = String(repeating: "a very long prompt ", count: 30)
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", long, "--prompt", long + "2", "--prompt", "x", "--prompt", "x",
            "--source", "synthetic", "--headless", "--frames", "1", "--jsonl", "-",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("warning") }
        #expect(warnings.count == 2, "\(warnings)")
        #expect(result.stderr.contains("2 prompts are longer than CLIP's 77 tokens"), "\(result.stderr)")
        #expect(result.stderr.contains("the prompt \"x\" is given more than once; it is scored once"))
        let scores = try jsonLines(result.stdout).first?["scores"] as? [[String: Any]]
        #expect(scores?.count == 3)
    }

    @Test(arguments: [
        (["model", "random", "--seed", "-1", "--out", "/tmp/never"], "--seed takes a whole number from 0 to"),
        (["embed-text", "--threads", "-1", "x"], "--threads must be between 1 and 256 (threads), not -1"),
        (["run", "--prompt", "x", "--size", "-16x16"], "--size -16x16 is out of range"),
        (["embed-text", " "], "a text to embed is empty"),
    ])
    func negativeAndEmptyValuesAreValues(arguments: [String], message: String) throws {
        let result = try clipcam(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Missing value"))
    }
}
