import Foundation
import Testing

/// A throwaway HTTP server on 127.0.0.1 (Python's http.server) serving `root`.
final class LocalServer {
    let process = Process()
    let port: Int

    init(root: URL) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root.path,
        ]
        // The server's output goes to a file (a pipe could be inherited by processes other tests start).
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-http-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        try process.run()
        try handle.close()
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        var text = ""
        for _ in 0..<200 where !text.contains("\n") {
            usleep(25_000)
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        guard let range = text.range(of: #"port (\d+)"#, options: .regularExpression),
            let port = Int(text[range].dropFirst(5))
        else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "http.server said: \(text)"])
        }
        self.port = port
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    deinit {
        // SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite(.serialized) struct FetchTests {
    /// Serves `files` as the hub does (ROOT/test/tiny-clip/resolve/main/FILE) on loopback and runs
    /// `clipcam model fetch` of that repository into `TARGET/model`; `check` gets the run, TARGET and a way
    /// to fetch again from the same hub. Everything is removed afterwards.
    /// `prepare` gets TARGET before the first fetch; `arguments` are added to every fetch.
    func fetchFromLocalHub(
        _ files: [String: Data], arguments: [String] = [], prepare: (URL) throws -> Void = { _ in },
        check: (RunResult, URL, () throws -> RunResult) throws -> Void
    ) throws {
        let root = try temporaryFolder("hub")
        let target = try temporaryFolder("fetch")
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: target)
        }
        let folder = root.appendingPathComponent("test/tiny-clip/resolve/main")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        try prepare(target)
        let server = try LocalServer(root: root)
        let fetch = {
            try clipcam(
                ["model", "fetch", "--repo", "test/tiny-clip", "--out", target.appendingPathComponent("model").path]
                    + arguments,
                environment: ["HF_ENDPOINT": server.endpoint])
        }
        try check(try fetch(), target, fetch)
    }

    func fixtureFiles() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            files[name] = try Data(contentsOf: Repo.model("tiny-gelu-f16").appendingPathComponent(name))
        }
        return files
    }

    @Test func fetchDownloadsChecksAndRenames() throws {
        let files = try fixtureFiles()
        try fetchFromLocalHub(files) { run, target, fetchAgain throws in
            #expect(run.status == 0, "\(run.stderr)")
            let out = target.appendingPathComponent("model")
            for (name, data) in files {
                #expect(try Data(contentsOf: out.appendingPathComponent(name)) == data, "\(name) differs")
            }
            #expect(run.stderr.contains("model.safetensors ["), "no progress bar in: \(run.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["model"])

            // A second fetch refuses to overwrite without --force.
            let again = try fetchAgain()
            #expect(again.status != 0 && again.stderr.contains("--force"))
        }
    }

    @Test func aCorruptDownloadLeavesNothingBehind() throws {
        var files = try fixtureFiles()
        files["model.safetensors"] = files["model.safetensors"]!.prefix(5000)
        try fetchFromLocalHub(files) { run, target, _ throws in
            #expect(run.status != 0)
            #expect(run.stderr.contains("not a usable CLIP model"))
            #expect(run.stderr.contains("model.safetensors"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
        }
    }

    @Test func aMissingFileIsAnHTTPError() throws {
        var files = try fixtureFiles()
        files["merges.txt"] = nil
        try fetchFromLocalHub(files) { run, target, _ throws in
            #expect(run.status != 0)
            #expect(run.stderr.contains("merges.txt failed: HTTP 404"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
        }
    }

    @Test func noNetworkFailsQuicklyWithAClearMessage() throws {
        let target = try temporaryFolder("fetch-offline")
        defer { try? FileManager.default.removeItem(at: target) }
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once, as with no network.
        let run = try clipcam(
            ["model", "fetch", "--out", target.appendingPathComponent("m").path],
            environment: ["HF_ENDPOINT": "http://127.0.0.1:9"])
        #expect(run.status != 0)
        #expect(
            run.stderr.contains(
                "cannot download http://127.0.0.1:9/openai/clip-vit-base-patch32/resolve/main/config.json"))
        #expect(run.stderr.contains("needs internet access"))
        #expect(run.seconds < 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
    }

    /// An empty merges.txt would change every text embedding; the download is refused and nothing is kept.
    @Test func aDownloadWithAnEmptyMergesFileIsRefused() throws {
        var files = try fixtureFiles()
        files["merges.txt"] = Data()
        try fetchFromLocalHub(files) { run, target, _ throws in
            #expect(run.status != 0)
            #expect(run.stderr.contains("not a usable CLIP model"), "\(run.stderr)")
            let merges = target.appendingPathComponent("model/merges.txt").path
            #expect(run.stderr.contains("\(merges) holds no merges, but the 1514 tokens"), "\(run.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
        }
    }

    /// A vocabulary whose size is not config.json's vocab_size is refused.
    @Test func aDownloadWhoseVocabularyDoesNotFitTheConfigIsRefused() throws {
        var files = try fixtureFiles()
        for name in ["vocab.json", "merges.txt"] {
            files[name] = try Data(contentsOf: Repo.model("tiny-quickgelu-f32").appendingPathComponent(name))
        }
        var config = try #require(
            try JSONSerialization.jsonObject(with: files["config.json"]!) as? [String: Any])
        var text = try #require(config["text_config_dict"] as? [String: Any])
        text["bos_token_id"] = 1513
        text["eos_token_id"] = 1512
        config["text_config_dict"] = text
        files["config.json"] = try JSONSerialization.data(withJSONObject: config)
        try fetchFromLocalHub(files) { run, target, _ throws in
            #expect(run.status != 0)
            let model = target.appendingPathComponent("model").path
            #expect(
                run.stderr.contains(
                    "\(model)/vocab.json gives <|startoftext|> the id 1512, but \(model)/config.json's "
                        + "text_config.bos_token_id is 1513"), "\(run.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
        }
    }

    /// --force replaces a model folder, but not one that holds someone's files.
    @Test func forceReplacesOnlyAModelFolder() throws {
        let files = try fixtureFiles()
        var before: [String: Data] = [:]
        try fetchFromLocalHub(
            files, arguments: ["--force"],
            prepare: { target in
                let model = target.appendingPathComponent("model")
                try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
                try Data("{}".utf8).write(to: model.appendingPathComponent("config.json"))
                try Data("my thesis\n".utf8).write(to: model.appendingPathComponent("thesis.txt"))
                before = try snapshot(target)
            }
        ) { run, target, fetchAgain throws in
            #expect(run.status != 0)
            #expect(run.stderr.contains("it holds thesis.txt, which is not part of a model folder"), "\(run.stderr)")
            #expect(try snapshot(target) == before)

            let model = target.appendingPathComponent("model")
            try FileManager.default.removeItem(at: model.appendingPathComponent("thesis.txt"))
            let again = try fetchAgain()
            #expect(again.status == 0, "\(again.stderr)")
            for (name, data) in files {
                #expect(try Data(contentsOf: model.appendingPathComponent(name)) == data, "\(name) differs")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["model"])
        }
    }

    @Test func anUnwritableDestinationIsNamedAsGiven() throws {
        let run = try clipcam(
            ["model", "fetch", "--out", "/proc/x"], environment: ["HF_ENDPOINT": "http://127.0.0.1:9"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot create /proc/x: "), "\(run.stderr)")
        #expect(!run.stderr.contains("partial") && !run.stderr.contains("/proc/."), "\(run.stderr)")
    }
}

/// A download larger than the disk's free space is refused before its first byte; a repository id or revision
/// that is not one is refused before anything is fetched.
@Suite struct FetchLimitTests {
    @Test func aFileLargerThanTheFreeSpaceIsRefused() throws {
        let root = try temporaryFolder("hub-big")
        let target = try temporaryFolder("fetch-big")
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: target)
        }
        let folder = root.appendingPathComponent("test/big/resolve/main")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        let weights = folder.appendingPathComponent("model.safetensors")
        FileManager.default.createFile(atPath: weights.path, contents: nil)
        try #require(truncate(weights.path, 4_000_000_000_000) == 0, "a sparse 4 TB file")
        let server = try LocalServer(root: root)
        let run = try clipcam(
            ["model", "fetch", "--repo", "test/big", "--out", target.appendingPathComponent("model").path],
            environment: ["HF_ENDPOINT": server.endpoint])
        #expect(run.status == 1)
        #expect(run.stderr.contains("is 4000.00 GB, but the disk has only"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("model").path))
    }

    @Test(arguments: [
        (["--repo", "../../etc"], "--repo takes a Hugging Face repository id"),
        (["--repo", ""], "--repo takes a Hugging Face repository id"),
        (["--revision", "../x"], "--revision takes a branch, tag or commit"),
    ])
    func badRepositoryIdsAreRefused(arguments: [String], message: String) throws {
        let run = try clipcam(["model", "fetch", "--out", "/tmp/clipcam-never-written"] + arguments)
        #expect(run.status == 64)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
