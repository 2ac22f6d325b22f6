import Foundation
import Testing

/// `analyze` and `search` refuse bad option values before loading anything, naming the option and its range, and
/// refuse outputs that would overwrite an input or each other.
@Suite struct OptionTests {
    static let refusals: [([String], String)] = [
        (
            ["analyze", "v.mp4", "--prompt", "x", "--every", "0"],
            "--every must be between 1 and 100000 (frames), not 0"
        ),
        (
            ["analyze", "v.mp4", "--prompt", "x", "--sample-fps", "0"],
            "--sample-fps must be between 0.001 and 1000 (frames per second), not 0.0"
        ),
        (["analyze", "v.mp4", "--prompt", "x", "--every", "2", "--sample-fps", "1"], "either --every or --sample-fps"),
        (
            ["analyze", "v.mp4", "--prompt", "x", "--threshold", "101"],
            "--threshold must be between 0 and 100 (a scaled score, %), not 101.0"
        ),
        (
            ["analyze", "v.mp4", "--prompt", "x", "--raw", "--threshold", "2"],
            "--threshold must be between -1 and 1 (a cosine, with --raw), not 2.0"
        ),
        (
            ["analyze", "v.mp4", "--prompt", "x", "--smooth", "0"],
            "--smooth must be between 1 and 1000 (sampled frames), not 0"
        ),
        (["analyze", "v.mp4", "--prompt", "x", "--min-length", "-1"], "--min-length must be between 0 and 86400"),
        (["analyze", "v.mp4"], "give --prompt TEXT (once or more) or --prompts FILE|NAME"),
        (["analyze", "v.mp4", "--prompt", "x", "--csv", "-", "--json"], "--csv and --json both write standard output"),
        (["analyze", "v.mp4", "--prompt", "x", "--cache-limit", "5k"], "--cache-limit must be between"),
        (["search", "x", "folder", "--top", "0"], "--top must be between 1 and 100000 (moments), not 0"),
        (["search", " ", "folder"], "the query is empty"),
        (["analyze", "v.mp4", "--prompt", "x", "--every", "2", "--every", "3"], "--every was given twice"),
    ]

    @Test(arguments: refusals) func refused(_ arguments: [String], _ message: String) throws {
        let result = try runProcess(Repo.executable, arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
    }

    @Test func anOutputOverAnInputOrAnotherOutputIsRefusedAndLeftAlone() throws {
        let folder = try temporaryFolder("outputs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = folder.appendingPathComponent("v.mkv")
        try Data("not really a video".utf8).write(to: video)
        let same = try runProcess(Repo.executable, ["analyze", video.path, "--prompt", "x", "--csv", video.path])
        #expect(same.status == 64)
        #expect(same.stderr.contains("is a file video reads"), "\(same.stderr)")
        #expect(try Data(contentsOf: video) == Data("not really a video".utf8))
        let out = folder.appendingPathComponent("out")
        let twice = try runProcess(
            Repo.executable, ["analyze", video.path, "--prompt", "x", "--csv", out.path, "--jsonl", out.path])
        #expect(twice.stderr.contains("--csv and --jsonl both write"), "\(twice.stderr)")
    }

    @Test func anUnreadableVideoLeavesTheResultsFileAsItWas() throws {
        let folder = try temporaryFolder("unreadable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = folder.appendingPathComponent("v.mkv")
        try Data("not really a video".utf8).write(to: video)
        let csv = folder.appendingPathComponent("old.csv")
        try Data("old results\n".utf8).write(to: csv)
        let result = try clipcam(
            ["analyze", video.path, "--prompt", "x", "--csv", csv.path], cache: folder.appendingPathComponent("c"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("v.mkv"), "\(result.stderr)")
        #expect(try Data(contentsOf: csv) == Data("old results\n".utf8))
    }
}
