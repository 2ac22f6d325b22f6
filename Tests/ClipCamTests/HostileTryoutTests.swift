import ClipCamKit
import Foundation
import Glibc
import SafeFiles
import Testing

/// Faults a hostile tryout of a release build found after "nothing lost, nothing crashes", each tested as its kind:
/// names that are not UTF-8 as sources and in outputs, numbers too large for an Int, errno read against the file
/// that is there, options a source ignores, long prompts in tables, hints that name what is really there.
@Suite struct HostileTryoutTests {
    static let model = Repo.model("tiny-quickgelu-f32").path
    static let image = Repo.images.appendingPathComponent("tiny-20x30.png")

    /// An image and a folder of images named with a byte that is not UTF-8 play as `--source`, as they open in
    /// `score` and `embed-image`.
    @Test func sourcesNamedWithBytesThatAreNotUTF8Play() throws {
        let folder = try temporaryFolder("oddsource")
        defer { try? FileManager.default.removeItem(at: folder) }
        let imageBytes = Array(try Data(contentsOf: Self.image))
        let file = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF] + Array("name.png".utf8)
        try #require(write(bytes: file, imageBytes))
        let images = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF] + Array("dir".utf8)
        try #require(mkdir(bytes: images))
        try #require(write(bytes: images + Array("/a.png".utf8), imageBytes))
        for source in [file, images] {
            let result = try clipcam(bytes: [
                Array("run".utf8), Array("--model".utf8), Array(Self.model.utf8), Array("--headless".utf8),
                Array("--jsonl".utf8), Array("-".utf8), Array("--frames".utf8), Array("2".utf8),
                Array("--fast".utf8), Array("--no-reuse".utf8), Array("--loop".utf8), Array("--prompt".utf8),
                Array("x".utf8), Array("--source".utf8), source,
            ])
            #expect(result.status == 0, "\(SystemPath(bytes: source)): \(result.stderr)")
            // --fast: a frame the encoder has no time for is dropped, so one or two are scored.
            #expect((1...2).contains(try jsonLines(result.stdout).count), "\(result.stdout)")
            #expect(!result.stderr.contains("does not exist"), "\(result.stderr)")
        }
    }

    /// Tables and JSON show a name that is not UTF-8 with `\xHH` for the odd byte (as messages do), never U+FFFD.
    @Test func outputsShowOddBytesAsEscapes() throws {
        let folder = try temporaryFolder("oddoutput")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF] + Array("name.png".utf8)
        try #require(write(bytes: file, Array(try Data(contentsOf: Self.image))))
        let shown = folder.path + "/bad\\xffname.png"
        let prompts = folder.appendingPathComponent("p.txt")
        try Data("a cat\na dog\n".utf8).write(to: prompts)
        let model = [Array("--model".utf8), Array(Self.model.utf8)]
        let score = [Array("score".utf8)] + model + [Array("--prompt".utf8), Array("x".utf8)]
        let label = [Array("label".utf8)] + model + [Array("--prompts".utf8), Array(prompts.path.utf8)]
        for command in [score, label] {
            let table = try clipcam(bytes: command + [file])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains(shown), "\(table.stdout)")
            #expect(!table.stdout.contains("\u{FFFD}"), "\(table.stdout)")

            let json = try clipcam(bytes: command + [Array("--json".utf8), file])
            #expect(json.status == 0, "\(json.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let results = try #require(object?["results"] as? [[String: Any]], "\(json.stdout)")
            #expect(results.first?["file"] as? String == shown, "\(json.stdout)")
        }
    }

    /// A number too large for an Int in a synthetic spec is out of range, as a smaller one is.
    @Test(arguments: [
        ("synthetic:99999999999999999999x2", "the size 99999999999999999999x2 is out of range (each side must be"),
        ("synthetic:0x0", "the size 0x0 is out of range (each side must be 16–8192 pixels)"),
        ("synthetic:64x-99999999999999999999", "the size 64x-99999999999999999999 is out of range"),
        ("synthetic:64x64@1e999", "the rate inf fps is out of range"),
    ])
    func syntheticNumbersThatOverflowAreOutOfRange(spec: String, message: String) throws {
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--headless", "--jsonl", "-", "--source", spec,
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'\(spec)': \(message)"), "\(result.stderr)")
        #expect(!result.stderr.contains("is not a synthetic source"), "\(result.stderr)")
    }

    /// /dev/tty opened without a controlling terminal fails with ENXIO, which for a FIFO would mean "no reader":
    /// the message says what is there.
    @Test func devTtyWithoutAControllingTerminalIsNamedForWhatItIs() throws {
        let result = try runProcess(
            URL(fileURLWithPath: "/usr/bin/setsid"),
            [
                "--wait", Repo.executable.path, "run", "--model", Self.model, "--prompt", "x", "--source",
                "synthetic", "--frames", "1", "--headless", "--jsonl", "/dev/tty",
            ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "cannot write results to /dev/tty: it is the controlling terminal's character device (5:0), and "
                    + "this process has no controlling terminal"), "\(result.stderr)")
        #expect(!result.stderr.contains("FIFO"), "\(result.stderr)")
    }

    /// A disk is never written with results, nor read as a video source.
    @Test func aBlockDeviceIsNamedAsOne() throws {
        // A node of its own (the loop driver's numbers, 7:0), so that the test runs on every machine: clipcam
        // refuses it from its type, before any open. Making nodes needs root (CAP_MKNOD), as the suite runs.
        let folder = try temporaryFolder("block-device")
        defer { try? FileManager.default.removeItem(at: folder) }
        let disk = folder.appendingPathComponent("disk").path
        try #require(
            mknod(disk, S_IFBLK | 0o600, dev_t(7 << 8 | 0)) == 0,
            "mknod needs root: \(String(cString: strerror(errno)))")
        try #require(FileKind.of(SystemPath(disk)) == .blockDevice)
        let output = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "1", "--headless",
            "--jsonl", disk,
        ])
        #expect(output.status == 1)
        #expect(
            output.stderr.contains("cannot write results to \(disk): it is a block device (7:0), a disk or partition"),
            "\(output.stderr)")
        let source = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", disk, "--headless", "--jsonl", "-",
        ])
        #expect(source.status == 1)
        #expect(source.stderr.contains("\(disk) is a block device"), "\(source.stderr)")
        #expect(source.stderr.contains("a block device is a disk or partition, not a video"), "\(source.stderr)")
        #expect(!source.stderr.contains("pipes or sockets"), "\(source.stderr)")
    }

    /// A video4linux node with no driver behind it (ENXIO, ENODEV on open) exists: it is not reported missing.
    @Test func aVideoNodeWithoutADriverIsNotMissing() throws {
        let folder = try temporaryFolder("nodriver")
        defer { try? FileManager.default.removeItem(at: folder) }
        let node = folder.appendingPathComponent("fakevideo0").path
        // A minor number no driver answers on here (none is listed in /sys/dev/char); making nodes needs root
        // (CAP_MKNOD), as the suite runs.
        let minor = try #require(
            (200..<256).first { !FileManager.default.fileExists(atPath: "/sys/dev/char/81:\($0)") })
        try #require(
            mknod(node, S_IFCHR | 0o600, dev_t(81 << 8 | minor)) == 0,
            "mknod needs root: \(String(cString: strerror(errno)))")
        let result = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--source", node, "--headless", "--jsonl", "-",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "\(node) is a video4linux character device (81:\(minor)), but no device or driver answers on it"),
            "\(result.stderr)")
        #expect(!result.stderr.contains("does not exist"), "\(result.stderr)")
    }

    /// --size (and --loop) warn for every source they do nothing for, as for a video file.
    @Test func optionsASourceIgnoresAreTold() throws {
        let folder = try temporaryFolder("ignored")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: Self.image, to: folder.appendingPathComponent("a.png"))
        let cases: [([String], String)] = [
            (["--source", Self.image.path, "--size", "64x64"], "--size does nothing for an image"),
            (["--source", folder.path, "--size", "64x64"], "--size does nothing for a folder of images"),
            (["--source", "synthetic", "--loop"], "--loop is for images and video files; a synthetic source"),
        ]
        for (extra, warning) in cases {
            let result = try clipcam(
                ["run", "--model", Self.model, "--prompt", "x", "--headless", "--jsonl", "-", "--frames", "1"]
                    + extra)
            #expect(result.status == 0, "\(extra): \(result.stderr)")
            #expect(result.stderr.contains("warning: \(warning)"), "\(extra): \(result.stderr)")
        }
        let camera = try clipcam([
            "run", "--model", Self.model, "--prompt", "x", "--headless", "--jsonl", "-", "--frames", "1",
            "--source", "synthetic", "--size", "64x64",
        ])
        #expect(!camera.stderr.contains("warning"), "synthetic takes --size: \(camera.stderr)")
    }

    /// Tables quote a long prompt by its start and length; JSON keeps it whole.
    @Test func tablesShortenLongPrompts() throws {
        let prompt = String(repeating: "a very long prompt ", count: 530) + "end"
        let file = Self.image.path
        let folder = try temporaryFolder("longlabel")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("p.txt")
        try Data((prompt + "\na dog\n").utf8).write(to: prompts)
        let score = try clipcam(["score", "--model", Self.model, "--prompt", prompt, file])
        let label = try clipcam(["label", "--model", Self.model, "--prompts", prompts.path, file])
        for result in [score, label] {
            #expect(result.status == 0, "\(result.stderr)")
            let longest = result.stdout.split(separator: "\n").map(\.count).max() ?? 0
            #expect(longest < 200, "\(result.stdout.prefix(400))")
            #expect(result.stdout.contains("… (\(prompt.count) characters)"), "\(result.stdout.prefix(400))")
        }
        let json = try clipcam(["score", "--model", Self.model, "--prompt", prompt, "--json", file])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["prompt"] as? String == prompt)
    }

    /// A prompt set asked for by a clipcam that finds no Prompts folder (installed outside the repository) says
    /// so, where it looked and how to point it at one.
    @Test func aSetNameWithoutAPromptsFolderSaysSo() throws {
        let folder = try temporaryFolder("noprompts")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bin = folder.appendingPathComponent("a/b/c/d")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let copy = bin.appendingPathComponent("clipcam")
        try FileManager.default.copyItem(at: Repo.executable, to: copy)
        let result = try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "cd '\(folder.path)' && '\(copy.path)' label --model '\(Self.model)' --prompts desk '\(Self.image.path)'",
            ],
            unsetting: ["CLIPCAM_PROMPTS_DIR"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("no prompt file desk, and no Prompts folder to look for a set named desk in"),
            "\(result.stderr)")
        #expect(result.stderr.contains(folder.appendingPathComponent("Prompts").path), "\(result.stderr)")
        #expect(result.stderr.contains("$CLIPCAM_PROMPTS_DIR"), "\(result.stderr)")
    }

    /// With $DISPLAY naming no X server and no $XDG_RUNTIME_DIR, the one message is clipcam's: libwayland's
    /// complaint about XDG_RUNTIME_DIR is not printed beside it.
    @Test func noXServerGivesOneMessage() throws {
        let result = try clipcam(
            ["run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "1"],
            environment: ["DISPLAY": ":97"], unsetting: ["WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "SDL_VIDEODRIVER"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains("XDG_RUNTIME_DIR is invalid"), "\(result.stderr)")
        #expect(result.stderr.contains("there is no display to show the window on"), "\(result.stderr)")
        #expect(result.stderr.contains("SDL cannot open the X display :97"), "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("clipcam:") }
        #expect(lines.count == 1, "\(result.stderr)")
    }

    /// A value config.json does not give is a default clipcam assumed, and a mismatch with the weights says so
    /// rather than quoting the default as if the file held it.
    @Test func defaultsThatDoNotFitTheWeightsAreNamedAsDefaults() throws {
        let folder = try temporaryFolder("defaults")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Repo.model("tiny-quickgelu-f32"), to: model)
        let configURL = model.appendingPathComponent("config.json")
        let original = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])

        var noVision = original
        noVision["vision_config"] = nil
        try JSONSerialization.data(withJSONObject: noVision).write(to: configURL)
        let vision = try clipcam(["embed-text", "--model", model.path, "x"])
        #expect(vision.status == 1)
        #expect(
            vision.stderr.contains(
                "config.json has no vision_config, so transformers' defaults were assumed for it "
                    + "(vision_config.num_hidden_layers 12), but"), "\(vision.stderr)")
        #expect(!vision.stderr.contains("vision_config.num_hidden_layers is 12"), "\(vision.stderr)")

        var noVocabularySize = original
        var text = try #require(original["text_config"] as? [String: Any])
        text["vocab_size"] = nil
        noVocabularySize["text_config"] = text
        try JSONSerialization.data(withJSONObject: noVocabularySize).write(to: configURL)
        let vocabulary = try clipcam(["embed-text", "--model", model.path, "x"])
        #expect(vocabulary.status == 1)
        #expect(
            vocabulary.stderr.contains(
                "config.json has no text_config.vocab_size, so transformers' default was assumed "
                    + "(text_config.vocab_size 49408)"), "\(vocabulary.stderr)")
    }

    /// A bench run killed outright leaves its random model in $TMPDIR; the next run removes it (its process is
    /// gone), and never the folder of a run still going.
    @Test func benchRemovesWhatKilledRunsLeft() throws {
        let folder = try temporaryFolder("benchtmp")
        defer { try? FileManager.default.removeItem(at: folder) }
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let abandoned = folder.appendingPathComponent("clipcam-bench-\(ended.processIdentifier)/random-tiny")
        let live = folder.appendingPathComponent("clipcam-bench-\(getpid())")
        let unrelated = folder.appendingPathComponent("clipcam-bench-notes")
        for made in [abandoned, live, unrelated] {
            try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
        }
        let result = try clipcam(
            ["bench", "--shape", "tiny", "--runs", "1", "--pipeline-frames", "0", "--startup-runs", "0"],
            environment: ["TMPDIR": folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: abandoned.deletingLastPathComponent().path))
        #expect(FileManager.default.fileExists(atPath: live.path))
        #expect(FileManager.default.fileExists(atPath: unrelated.path))
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(left == [live.lastPathComponent, unrelated.lastPathComponent].sorted(), "\(left)")
    }

    /// Every error starts "error: " and every usage hint names `clipcam COMMAND --help`, whether ArgumentParser or
    /// clipcam found the fault.
    @Test(arguments: [
        ["run", "--prompt", "x", "--fps", "1", "--fps", "2"],
        ["run", "--prompt", "x", "--bogus"],
        ["run", "--prompt", "x", "--smooth", "0"],
    ])
    func usageErrorsHaveOneForm(arguments: [String]) throws {
        let result = try clipcam(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)")
        #expect(result.stderr.contains("See 'clipcam run --help' for more information."), "\(result.stderr)")
        #expect(!result.stderr.contains("Error:"), "\(result.stderr)")
        #expect(!result.stderr.contains("clipcam help run"), "\(result.stderr)")
    }

    /// The model's name the window shows is the folder's as the user named it, not the /proc/<pid>/fd alias a
    /// name that is not UTF-8 is opened through.
    @Test func aModelFolderNamedWithOddBytesShowsItsName() throws {
        let folder = try temporaryFolder("oddmodel")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = Array(folder.path.utf8) + Array("/model".utf8) + [0xFF]
        #expect(mkdir(bytes: bytes))
        for file in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: Self.model).appendingPathComponent(file))
            let target = SystemPath(bytes: bytes + Array("/\(file)".utf8))
            let descriptor = target.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
            try #require(descriptor >= 0)
            data.withUnsafeBytes { _ = write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        let alias = try SystemPath(bytes: bytes).openableName(role: "model folder")
        #expect(alias.hasPrefix("/proc/"))
        let engine = try ClipEngine(directory: URL(fileURLWithPath: alias), threads: 1)
        #expect(engine.name == "model\\xff", "\(engine.name)")
    }

    @Test func aRuntimeErrorStartsTheSameWay() throws {
        let result = try clipcam(["bench", "--model", "/nonexistent/model", "--runs", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)")
    }
}

private func mkdir(bytes path: [UInt8]) -> Bool {
    SystemPath(bytes: path).withCString { Glibc.mkdir($0, 0o755) } == 0
}
