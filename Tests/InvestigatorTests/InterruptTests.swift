import Foundation
import Testing

/// Ctrl-C during an analysis: the frames done are kept in the cache, and the next analysis encodes only the rest.
@Suite struct InterruptTests {
    @Test func ctrlCKeepsTheFramesDoneAndTheNextRunResumes() throws {
        let folder = try temporaryFolder("interrupt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache")
        // 2 minutes at 10 frames/s: far more than the fixture model encodes before the signal.
        let video = try Scenes.video([(Scenes.a, 60), (Scenes.b, 60)], name: "long.mkv", in: folder)
        let process = Process()
        process.executableURL = Repo.executable
        process.arguments = ["analyze", video, "--prompt", "a dog", "--json", "--model", Repo.model.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["CLIPCAM_CACHE": cache.path]) { _, b in b }
        let errors = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        let handle = try FileHandle(forWritingTo: errors)
        process.standardError = handle
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Interrupt once frames are being encoded (the progress bar has started), or after 20 s at most.
        let deadline = Date(timeIntervalSinceNow: 20)
        while Date() < deadline,
            !(try String(contentsOf: errors, encoding: .utf8)).contains(" frames ")
        {
            usleep(50_000)
        }
        usleep(300_000)
        process.interrupt()
        process.waitUntilExit()
        try handle.close()
        let message = try String(contentsOf: errors, encoding: .utf8)
        #expect(process.terminationStatus == 130, "\(message)")
        #expect(message.contains("frames are kept in the cache"), "\(message)")

        let list = try runProcess(
            Repo.executable, ["cache", "list", "--json"], environment: ["CLIPCAM_CACHE": cache.path])
        let entries = try #require(try jsonObject(list.stdout)["entries"] as? [[String: Any]])
        try #require(entries.count == 1, "\(list.stdout)")
        let kept = try #require(entries[0]["frames"] as? Int)
        #expect(entries[0]["complete"] as? Bool == false)
        #expect(kept > 0 && kept < 1200, "\(kept) frames kept")

        let resumed = try clipcam(["analyze", video, "--prompt", "a dog", "--json"], cache: cache)
        try #require(resumed.status == 0, "\(resumed.stderr)")
        let file = try #require((try jsonObject(resumed.stdout)["files"] as? [[String: Any]])?.first)
        #expect(file["cached_frames"] as? Int == kept)
        #expect(file["encoded_frames"] as? Int == 1200 - kept)
        #expect(file["frames"] as? Int == 1200)
    }
}
