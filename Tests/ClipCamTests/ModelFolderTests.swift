import ClipCamKit
import Foundation
import Glibc
import SafeFiles
import Testing

/// Every file under `folder` (relative path → bytes; folders as "name/" with no bytes), to compare a folder before
/// and after a command byte for byte.
func snapshot(_ folder: URL) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = try #require(FileManager.default.enumerator(atPath: folder.path))
    while let relative = enumerator.nextObject() as? String {
        let url = folder.appendingPathComponent(relative)
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        files[isFolder.boolValue ? relative + "/" : relative] = isFolder.boolValue ? Data() : try Data(contentsOf: url)
    }
    return files
}

/// The small vocabulary of the test models.
let smallVocabulary = Repo.fixtures.appendingPathComponent("tokens/small-vocab")

/// A CLIP-style vocabulary of 512 + `merges` + 2 tokens (the small vocabulary's byte symbols, one merge per pair of
/// them, then the special tokens), written into `folder`: a tiny model with it has a token embedding of
/// `merges` × 64 floats, large enough that writing the model takes a while in a debug build.
func largeVocabulary(merges: Int, in folder: URL) throws -> URL {
    let small = try #require(
        try JSONSerialization.jsonObject(
            with: Data(contentsOf: smallVocabulary.appendingPathComponent("vocab.json"))) as? [String: Int])
    let byID = small.sorted { $0.value < $1.value }.map(\.key)
    let symbols = Array(byID.prefix(256))
    var vocabulary: [String: Int] = [:]
    for (id, token) in byID.prefix(512).enumerated() { vocabulary[token] = id }
    var lines = ["#version: 0.2"]
    for index in 0..<merges {
        let (left, right) = (symbols[index / 256], symbols[index % 256])
        vocabulary[left + right] = 512 + index
        lines.append("\(left) \(right)")
    }
    vocabulary["<|startoftext|>"] = 512 + merges
    vocabulary["<|endoftext|>"] = 513 + merges
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try JSONSerialization.data(withJSONObject: vocabulary).write(to: folder.appendingPathComponent("vocab.json"))
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("merges.txt"))
    return folder
}

/// Starts clipcam without waiting for it; its standard error goes to a file.
final class RunningClipcam {
    let process = Process()
    let errorFile: URL

    init(_ arguments: [String], in folder: URL, name: String) throws {
        process.executableURL = Repo.executable
        process.arguments = arguments
        errorFile = folder.appendingPathComponent("\(name).stderr")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: errorFile)
        process.standardError = handle
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try handle.close()
    }

    func wait() -> (status: Int32, stderr: String) {
        process.waitUntilExit()
        let text = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: errorFile)
        return (process.terminationStatus, text)
    }
}

/// `model random` and `model fetch --force` replace only a model folder; races and interruptions leave one whole
/// model or nothing; messages never name the hidden folder.
@Suite struct ModelFolderTests {
    /// `model random --shape tiny` into `out` with the small vocabulary.
    private func random(_ out: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> RunResult
    {
        try ClipCamTests.clipcam(
            ["model", "random", "--shape", "tiny", "--out", out, "--vocab", smallVocabulary.path] + extra,
            environment: environment)
    }

    /// `clipcam ARGUMENTS` run in the folder `directory`.
    private func clipcamIn(_ directory: URL, _ arguments: [String], environment: [String: String] = [:]) throws
        -> RunResult
    {
        try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "cd \"$0\" && exec \"$@\"", directory.path, Repo.executable.path]
                + arguments, environment: environment)
    }

    /// A folder holding a tiny random model and whatever `add` puts beside it.
    private func modelFolder(in parent: URL, _ add: (URL) throws -> Void) throws -> URL {
        let folder = parent.appendingPathComponent("w")
        let made = try random(folder.path)
        try #require(made.status == 0, "\(made.stderr)")
        try add(folder)
        return folder
    }

    private func hiddenEntries(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }
    }

    @Test(arguments: [
        ("a file of someone's", ["thesis.txt"], [String]()),
        ("a folder", [], ["notes"]),
        ("a file and a folder", ["thesis.txt"], ["data"]),
    ])
    func forceKeepsAFolderHoldingMoreThanAModel(_ what: String, files: [String], folders: [String]) throws {
        let parent = try temporaryFolder("force")
        defer { try? FileManager.default.removeItem(at: parent) }
        let folder = try modelFolder(in: parent) { folder in
            for name in files { try Data("my work, \(name)\n".utf8).write(to: folder.appendingPathComponent(name)) }
            for name in folders {
                let inner = folder.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: false)
                try Data("inside\n".utf8).write(to: inner.appendingPathComponent("kept.txt"))
            }
        }
        let before = try snapshot(parent)
        let run = try random(folder.path, ["--force", "--seed", "9"])
        #expect(run.status != 0, "\(what): \(run.stderr)")
        #expect(run.stderr.contains("refusing to replace \(folder.path): it holds "), "\(run.stderr)")
        for name in files + folders.map({ $0 + "/" }) { #expect(run.stderr.contains(name), "\(run.stderr)") }
        #expect(try snapshot(parent) == before, "\(what): the folder changed")
    }

    @Test func forceKeepsAFolderWithoutAModelFile() throws {
        let parent = try temporaryFolder("force-readme")
        defer { try? FileManager.default.removeItem(at: parent) }
        let folder = parent.appendingPathComponent("project")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        try Data("# my project\n".utf8).write(to: folder.appendingPathComponent("README.md"))
        let before = try snapshot(parent)
        let run = try random(folder.path, ["--force"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("it holds README.md but none of config.json, model.safetensors"), "\(run.stderr)")
        #expect(try snapshot(parent) == before)
    }

    @Test func forceReplacesAModelFolderAndLeavesNothingHidden() throws {
        let parent = try temporaryFolder("force-model")
        defer { try? FileManager.default.removeItem(at: parent) }
        let folder = try modelFolder(in: parent) { folder in
            try Data("{}".utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
            try Data("# CLIP\n".utf8).write(to: folder.appendingPathComponent("README.md"))
        }
        let old = try Data(contentsOf: folder.appendingPathComponent("model.safetensors"))
        let run = try random(folder.path, ["--force", "--seed", "9"])
        #expect(run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files == ["config.json", "merges.txt", "model.safetensors", "vocab.json"])
        #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) != old)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["w"])
        let info = try ClipCamTests.clipcam(["model", "info", "--model", folder.path])
        #expect(info.status == 0, "\(info.stderr)")
    }

    /// The current folder, a folder holding it and the home folder are never written to, with or without --force.
    @Test(arguments: [".", ".."])
    func theCurrentFolderAndItsParentsAreRefused(out: String) throws {
        let parent = try temporaryFolder("cwd")
        defer { try? FileManager.default.removeItem(at: parent) }
        let folder = try modelFolder(in: parent) { folder in
            try Data("my thesis\n".utf8).write(to: folder.appendingPathComponent("thesis.txt"))
        }
        let before = try snapshot(parent)
        for force in [true, false] {
            let run = try clipcamIn(
                folder,
                ["model", "random", "--shape", "tiny", "--out", out, "--vocab", smallVocabulary.path]
                    + (force ? ["--force"] : []))
            #expect(run.status != 0)
            let what = out == "." ? "the current folder" : "a folder holding the current folder"
            #expect(run.stderr.contains("refusing to write a model to \(out): it is \(what)"), "\(run.stderr)")
        }
        #expect(try snapshot(parent) == before)
    }

    @Test func theHomeFolderIsRefused() throws {
        let home = try temporaryFolder("home")
        defer { try? FileManager.default.removeItem(at: home) }
        let folder = try modelFolder(in: home) { _ in }
        let before = try snapshot(home)
        for out in [folder.path, home.path] {
            let run = try random(out, ["--force"], environment: ["HOME": folder.path])
            #expect(run.status != 0)
            #expect(run.stderr.contains("refusing to write a model to \(out): it is "), "\(run.stderr)")
            #expect(run.stderr.contains("home folder"), "\(run.stderr)")
        }
        #expect(try snapshot(home) == before)
    }

    /// A destination that cannot be made is named as given, never as clipcam's hidden folder.
    @Test(arguments: ["/proc/x", "/proc/x/model"])
    func anUnwritableDestinationIsNamedAsGiven(out: String) throws {
        let run = try random(out)
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot create \(out): "), "\(run.stderr)")
        for hidden in [".partial", ".new-", "clipcam-partial", "/proc/."] {
            #expect(!run.stderr.contains(hidden), "\(run.stderr)")
        }
    }

    /// Two `model random --out SAME` at once: exactly one succeeds, the other fails saying why, and the folder holds
    /// one complete model that loads. The large vocabulary makes each write take long enough for the runs to
    /// overlap.
    @Test func ofTwoRunsWritingOneFolderExactlyOneWins() throws {
        let parent = try temporaryFolder("race")
        defer { try? FileManager.default.removeItem(at: parent) }
        let vocabulary = try largeVocabulary(merges: 60_000, in: parent.appendingPathComponent("vocab"))
        let out = parent.appendingPathComponent("same")
        let arguments = ["model", "random", "--shape", "tiny", "--out", out.path, "--vocab", vocabulary.path]
        let runs = try (0..<2).map {
            try RunningClipcam(arguments + ["--seed", "\($0)"], in: parent, name: "run\($0)")
        }
        let results = runs.map { $0.wait() }
        let winners = results.filter { $0.status == 0 }
        #expect(winners.count == 1, "\(results.map(\.stderr))")
        for loser in results where loser.status != 0 {
            let said =
                loser.stderr.contains(
                    "\(out.path) was created by someone else (another clipcam run?) while this one "
                        + "was writing; it was left as it is")
                || loser.stderr.contains("\(out.path) already exists")
            #expect(said, "\(loser.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).sorted() == ["same", "vocab"])
        let info = try ClipCamTests.clipcam(["model", "info", "--model", out.path])
        #expect(info.status == 0 && info.stdout.contains("vocabulary 60514"), "\(info.stderr)")
    }

    /// Ctrl-C while the model is written leaves nothing behind: no hidden folder, no destination.
    @Test func ctrlCWhileWritingLeavesNothing() throws {
        let parent = try temporaryFolder("interrupt")
        defer { try? FileManager.default.removeItem(at: parent) }
        let vocabulary = try largeVocabulary(merges: 65_000, in: parent.appendingPathComponent("vocab"))
        let out = parent.appendingPathComponent("model")
        let run = try RunningClipcam(
            ["model", "random", "--shape", "tiny", "--out", out.path, "--vocab", vocabulary.path], in: parent,
            name: "run")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try hiddenEntries(parent).isEmpty, run.process.isRunning { usleep(2_000) }
        try #require(try !hiddenEntries(parent).isEmpty, "the run finished before it could be interrupted")
        kill(run.process.processIdentifier, SIGINT)
        let (status, stderr) = run.wait()
        #expect(status != 0)
        #expect(stderr.contains("interrupted; \(out.path) was left as it was"), "\(stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).sorted() == ["vocab"])
    }

    /// A folder whose name is not UTF-8 opens with --model (its bytes reach the kernel as typed).
    @Test func aModelFolderWhoseNameIsNotUTF8Opens() throws {
        let parent = try temporaryFolder("bytes")
        defer { try? FileManager.default.removeItem(at: parent) }
        let made = try random(parent.appendingPathComponent("m").path)
        try #require(made.status == 0, "\(made.stderr)")
        // Rename m to m<0xFF> by bytes (Foundation takes only UTF-8 names).
        let from = Array(parent.appendingPathComponent("m").path.utf8CString)
        let to = Array(parent.appendingPathComponent("m").path.utf8) + [0xFF, 0]
        let renamed = to.withUnsafeBufferPointer { target in
            target.withMemoryRebound(to: CChar.self) { Glibc.rename(from, $0.baseAddress!) }
        }
        try #require(renamed == 0)
        let run = try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "exec \"$0\" model info --model \"$1/m$(printf '\\377')\"", Repo.executable.path, parent.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("model: \(parent.path)/m\\xff  (RANDOM weights)"), "\(run.stdout)")
    }
}

/// The model items of "no silent success, no misleading message".
@Suite struct ModelMessageTests {
    /// Help shows where the model is looked for, not this run's $CLIPCAM_MODEL as if it were built in.
    @Test(arguments: [["model", "info"], ["embed-text"], ["run"], ["model", "fetch"], ["model", "random"], []])
    func helpStatesTheRuleNotTheEnvironment(command: [String]) throws {
        let run = try clipcam(
            command + ["--help"],
            environment: ["CLIPCAM_MODEL": "/env/model-from-environment", "CLIPCAM_VOCAB_DIR": "/env/vocab-dir"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("/env/"), "\(run.stdout)")
        if command != ["model", "random"] {
            let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(text.contains("$CLIPCAM_MODEL when set, else ~/.cache/clipcam/clip-vit-base-patch32"), "\(text)")
        }
    }

    @Test func theNoModelHintKeepsRandomWeightsOutOfTheRealModelsFolder() throws {
        let folder = try temporaryFolder("hint")
        defer { try? FileManager.default.removeItem(at: folder) }
        let absent = folder.appendingPathComponent("clip-vit-base-patch32")
        let run = try clipcam(
            ["embed-text", "hello"], environment: ["CLIPCAM_MODEL": absent.path, "XDG_CACHE_HOME": folder.path])
        #expect(run.status != 0)
        let random = folder.appendingPathComponent("clipcam/random-vit-b-32").path
        #expect(!run.stderr.contains("model random --shape vit-b-32 --out \(absent.path)"), "\(run.stderr)")
        #expect(run.stderr.contains("clipcam model random --shape vit-b-32 --out \(random)"), "\(run.stderr)")
        #expect(run.stderr.contains("--model \(random)"), "\(run.stderr)")
    }

    /// When the suggested folder already holds a model, the hint names it for --model instead of suggesting a
    /// `model random` that would be refused; when it holds something else, it suggests a free folder beside it.
    @Test func theNoModelHintNamesARandomModelThatIsThere() throws {
        let folder = try temporaryFolder("hint")
        defer { try? FileManager.default.removeItem(at: folder) }
        let absent = folder.appendingPathComponent("clip-vit-base-patch32")
        let random = folder.appendingPathComponent("clipcam/random-vit-b-32")
        try FileManager.default.createDirectory(at: random, withIntermediateDirectories: true)
        try Data("my notes".utf8).write(to: random.appendingPathComponent("notes.txt"))
        let environment = ["CLIPCAM_MODEL": absent.path, "XDG_CACHE_HOME": folder.path]
        let taken = try clipcam(["embed-text", "hello"], environment: environment)
        #expect(taken.status != 0)
        #expect(!taken.stderr.contains("--out \(random.path) "), "\(taken.stderr)")
        #expect(
            taken.stderr.contains("clipcam model random --shape vit-b-32 --out \(random.path)-2`"), "\(taken.stderr)")

        try FileManager.default.removeItem(at: random)
        try FileManager.default.copyItem(at: Repo.model("tiny-quickgelu-f32"), to: random)
        let there = try clipcam(["embed-text", "hello"], environment: environment)
        #expect(there.status != 0)
        #expect(!there.stderr.contains("clipcam model random"), "\(there.stderr)")
        #expect(
            there.stderr.contains("use the random model in \(random.path): `--model \(random.path)`"), "\(there.stderr)"
        )
    }

    @Test(arguments: ["0", "257", "1000"])
    func threadsOutsideTheRangeNameTheOptionAndTheRange(threads: String) throws {
        let run = try clipcam(["embed-text", "--model", Repo.model("tiny-gelu-f16").path, "--threads", threads, "a"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--threads must be between 1 and 256 (threads), not \(threads)"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func threadsHelpGivesTheRange() throws {
        let run = try clipcam(["embed-text", "--help"])
        #expect(run.stdout.contains("1–256"), "\(run.stdout)")
    }
}

/// The vocabulary files are checked against config.json before the model is built.
@Suite struct TokenizerFitTests {
    /// A copy of a fixture model whose vocab.json (token → id) and merges.txt lines went through `edit`.
    private func model(
        _ fixture: String, edit: (inout [String: Int], inout [String]) -> Void
    ) throws -> URL {
        let folder = try temporaryFolder("fit")
        for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(
                at: Repo.model(fixture).appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        var vocabulary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("vocab.json")))
                as? [String: Int])
        var merges = try String(contentsOf: folder.appendingPathComponent("merges.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        edit(&vocabulary, &merges)
        try JSONSerialization.data(withJSONObject: vocabulary).write(to: folder.appendingPathComponent("vocab.json"))
        try Data((merges.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("merges.txt"))
        return folder
    }

    private func info(_ folder: URL) throws -> RunResult {
        try clipcam(["model", "info", "--model", folder.path])
    }

    /// One merge fewer, and its token gone: a consistent vocabulary of 1513 tokens for a model of 1514.
    @Test func aVocabularyOfAnotherSizeIsNamed() throws {
        let folder = try model("tiny-gelu-f16") { vocabulary, merges in
            let last = merges.removeLast().replacingOccurrences(of: " ", with: "")
            let id = vocabulary.removeValue(forKey: last)!
            for (token, other) in vocabulary where other > id { vocabulary[token] = other - 1 }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try info(folder)
        #expect(run.status != 0)
        #expect(
            run.stderr.contains(
                "\(folder.path)/vocab.json holds 1513 tokens, but \(folder.path)/config.json's "
                    + "text_config.vocab_size is 1514"), "\(run.stderr)")
    }

    /// The start and end tokens' ids swapped in vocab.json: the model would pool at the wrong token.
    @Test(arguments: [
        ("tiny-gelu-f16", "vocab.json gives <|startoftext|> the id 1513, but"),
        ("tiny-quickgelu-f32", "text_config.eos_token_id is 2, so the model pools at the largest token id"),
    ])
    func specialTokensThatAreNotTheConfigsAreNamed(fixture: String, says: String) throws {
        let folder = try model(fixture) { vocabulary, _ in
            vocabulary["<|startoftext|>"] = 1513
            vocabulary["<|endoftext|>"] = 1512
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try info(folder)
        #expect(run.status != 0)
        #expect(run.stderr.contains(says), "\(run.stderr)")
    }
}

/// The destination checks of ModelInstaller that the command line cannot safely show: the root folder, links and
/// files are refused before anything is written.
@Suite struct ModelInstallerTests {
    @Test func theRootIsRefused() {
        #expect(
            throws: ModelInstallError.protectedFolder(path: "/", reason: "the root folder")
        ) { try ModelInstaller(destination: SystemPath("/"), force: true) }
    }

    @Test func aLinkOrAFileIsRefused() throws {
        let folder = try temporaryFolder("installer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
        let link = folder.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: model)
        let file = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        #expect(throws: ModelInstallError.notAFolder(path: link.path, kind: "a symbolic link")) {
            try ModelInstaller(destination: SystemPath(link.path), force: true)
        }
        #expect(throws: ModelInstallError.notAFolder(path: file.path, kind: "a regular file")) {
            try ModelInstaller(destination: SystemPath(file.path), force: true)
        }
        // An empty folder holds nothing to lose; without --force it is still not replaced.
        #expect(throws: Never.self) { try ModelInstaller(destination: SystemPath(model.path), force: true) }
        #expect(throws: ModelInstallError.exists(path: model.path)) {
            try ModelInstaller(destination: SystemPath(model.path), force: false)
        }
    }
}
