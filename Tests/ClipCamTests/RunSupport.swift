import Capture
import Foundation
import Testing

/// JSON lines parsed from `clipcam run --jsonl`.
func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
}

/// Runs a tool (ffmpeg, sh) to completion; fails the test with its standard error if it fails.
func tool(_ path: String, _ arguments: [String]) throws {
    let result: RunResult
    do {
        result = try runProcess(URL(fileURLWithPath: path), arguments)
    } catch {
        Issue.record("cannot run \(path): \(error); install it (sudo apt-get install ffmpeg) or run scripts/setup")
        throw error
    }
    try #require(result.status == 0, "\(path) \(arguments.joined(separator: " ")) failed: \(result.stderr)")
}

/// A 10 fps H.264 video, 320×240: `first` for 2 s (frames 0–19), then `second` for 2 s (frames 20–39).
func twoSceneVideo(first: String, second: String, in folder: URL) throws -> URL {
    let video = folder.appendingPathComponent("two-scenes.mp4")
    let scale = "scale=320:240,setsar=1,format=yuv420p"
    try tool(
        "/usr/bin/ffmpeg",
        [
            "-loglevel", "error", "-y", "-loop", "1", "-t", "2", "-framerate", "10", "-i", first,
            "-loop", "1", "-t", "2", "-framerate", "10", "-i", second,
            "-filter_complex", "[0]\(scale)[a];[1]\(scale)[b];[a][b]concat=n=2:v=1[v]",
            "-map", "[v]", "-r", "10", "-c:v", "libx264", "-crf", "18", video.path,
        ])
    return video
}

/// The simulated camera (Tests/FakeV4L2) built by scripts/build-fake-v4l2 into its own folder, once.
let fakeCameraLibrary: Result<String, FakeCameraError> = {
    let output = Repo.root.appendingPathComponent(".build/fake-v4l2-clipcam")
    let result: RunResult
    do {
        result = try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [Repo.root.appendingPathComponent("scripts/build-fake-v4l2").path, output.path])
    } catch {
        return .failure(FakeCameraError(description: "cannot run scripts/build-fake-v4l2: \(error)"))
    }
    guard result.status == 0 else {
        return .failure(
            FakeCameraError(
                description: "scripts/build-fake-v4l2 failed (needs gcc: sudo apt-get install gcc):\n"
                    + result.stderr))
    }
    return .success(output.appendingPathComponent("libfakev4l2.so").path)
}()

struct FakeCameraError: Error, CustomStringConvertible {
    var description: String
}

/// The environment that makes clipcam see the simulated camera configured by `fake` (FAKE_V4L2_* without prefix).
func fakeCameraEnvironment(_ fake: [String: String]) throws -> [String: String] {
    var environment = ["LD_PRELOAD": try fakeCameraLibrary.get()]
    for (key, value) in fake { environment["FAKE_V4L2_" + key] = value }
    return environment
}

/// A PNG saved by `clipcam run --screenshot`, read back.
struct ScreenshotPixels {
    let frame: Frame

    init(path: String) throws {
        frame = try ImageFile.load(path)
    }

    var width: Int { frame.width }
    var height: Int { frame.height }

    /// Pixels of exactly this colour.
    func count(red: UInt8, green: UInt8, blue: UInt8) -> Int {
        var total = 0
        for i in stride(from: 0, to: frame.bgr.count, by: 3)
        where frame.bgr[i] == blue && frame.bgr[i + 1] == green && frame.bgr[i + 2] == red {
            total += 1
        }
        return total
    }
}
