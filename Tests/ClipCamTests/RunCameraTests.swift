import Foundation
import Testing

/// `clipcam run` on the simulated camera (Tests/FakeV4L2 preloaded into clipcam).
@Suite struct RunCameraTests {
    private let model = Repo.model("tiny-quickgelu-f32").path
    private let device = "/dev/video7"

    private func run(_ extra: [String], fake: [String: String]) throws -> RunResult {
        try clipcam(
            ["run", "--model", model, "--prompt", "a coffee cup", "--source", device, "--headless", "--jsonl", "-"]
                + extra,
            environment: try fakeCameraEnvironment(
                ["DEVICE": device, "SIZES": "64x48", "FPS": "100"].merging(fake) {
                    $1
                }))
    }

    @Test func grantedFormatIsReportedAndFramesAreScored() throws {
        let result = try run(
            ["--frames", "10", "--size", "160x120", "--fps", "30"],
            fake: [
                "SIZES": "320x240,160x120", "FPS": "60,30",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains("source: camera /dev/video7 (Fake Camera), 160x120 @ 30 fps"), "\(result.stderr)")
        let lines = try jsonLines(result.stdout)
        #expect(!lines.isEmpty && lines.count <= 10)
        #expect(result.stderr.contains("10 frames captured, \(lines.count) encoded"), "\(result.stderr)")
    }

    @Test func unplugEndsTheRunWithAMessageNamingTheDevice() throws {
        let result = try run(["--frames", "50"], fake: ["UNPLUG_AFTER": "5"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 was unplugged"), "\(result.stderr)")
        let lines = try jsonLines(result.stdout)
        let frames = lines.compactMap { $0["frame"] as? Int }
        #expect(!frames.isEmpty && frames.allSatisfy { $0 < 5 }, "frames \(frames)")
    }

    /// In the window, the unplug message is shown as the banner, and `--screenshot` saves the window as it was.
    @Test func screenshotKeepsTheUnplugBanner() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-unplug-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = folder.appendingPathComponent("unplugged.png")
        let result = try clipcam(
            [
                "run", "--model", model, "--prompt", "a coffee cup", "--source", device, "--frames", "50",
                "--screenshot", png.path, "--window-size", "640x360",
            ],
            environment: try fakeCameraEnvironment([
                "DEVICE": device, "SIZES": "64x48", "FPS": "100", "UNPLUG_AFTER": "5",
            ])
            .merging(["SDL_VIDEODRIVER": "offscreen"]) { $1 })
        #expect(result.status == 1, "\(result.stderr)")
        let logged = try #require(
            result.stderr.split(separator: "\n").first { $0.contains("screenshot \(png.path): ") }, "\(result.stderr)")
        #expect(logged.contains("banner=\"/dev/video7 was unplugged"), "\(logged)")
        let saved = try ScreenshotPixels(path: png.path)
        #expect(saved.width == 640 && saved.height == 360)
    }

    @Test func reconnectWaitsForTheCameraAndCarriesOn() throws {
        let result = try run(["--frames", "12", "--reconnect"], fake: ["UNPLUG_AFTER": "4", "REPLUG_MS": "300"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("/dev/video7 disappeared; waiting for it to return"), "\(result.stderr)")
        #expect(result.stderr.contains("/dev/video7 is back"), "\(result.stderr)")
        #expect(result.stderr.contains("12 frames captured"), "\(result.stderr)")
        let frames = try jsonLines(result.stdout).compactMap { $0["frame"] as? Int }
        #expect(frames.contains { $0 >= 4 }, "no frame after the camera came back: \(frames)")
    }

    @Test func busyCameraIsNamed() throws {
        let result = try run([], fake: ["BUSY": "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 is busy"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func missingCameraIsNamed() throws {
        let result = try run([], fake: ["DEVICE": "/dev/video3"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 does not exist"), "\(result.stderr)")
    }
}
