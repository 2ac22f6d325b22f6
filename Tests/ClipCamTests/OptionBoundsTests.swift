import Foundation
import Testing

/// Point 1 of "nothing lost, nothing crashes": every numeric option is checked against its documented range before
/// anything is loaded or allocated, and the error names the option and the range.
@Suite struct OptionBoundsTests {
    static let model = Repo.model("tiny-quickgelu-f32").path

    /// `run` with one bad option; everything else valid (and a few frames, so that a run wrongly accepted ends).
    static func run(_ extra: [String], output: URL? = nil) throws -> RunResult {
        let frames = extra.contains { $0.hasPrefix("--frames") } ? [] : ["--frames", "3"]
        return try clipcam(
            [
                "run", "--model", model, "--prompt", "a cat", "--source", "synthetic", "--headless", "--fast",
                "--jsonl", output?.path ?? "-",
            ] + frames + extra)
    }

    @Test(arguments: [
        (
            ["--smooth", "9223372036854775807"],
            "--smooth must be between 1 and 1000 (scored frames), not 9223372036854775807"
        ),
        (["--smooth", "10000000000"], "--smooth must be between 1 and 1000 (scored frames), not 10000000000"),
        (["--smooth", "0"], "--smooth must be between 1 and 1000 (scored frames), not 0"),
        (["--threshold", "-5"], "--threshold must be between 0 and 100 (a scaled score, %), not -5.0"),
        (["--threshold=-5"], "--threshold must be between 0 and 100 (a scaled score, %), not -5.0"),
        (["--threshold", "nan"], "--threshold must be between 0 and 100 (a scaled score, %), not nan"),
        (["--fps", "0.000000001"], "--fps must be between 0.1 and 1000 (frames per second), not 1e-09"),
        (["--fps", "-30"], "--fps must be between 0.1 and 1000 (frames per second), not -30.0"),
        (["--fps", "inf"], "--fps must be between 0.1 and 1000 (frames per second), not inf"),
        (["--frames", "-1"], "--frames must be between 1 and 1000000000 (frames), not -1"),
        (["--queue", "3"], "--queue must be between 1 and 2 (frames), not 3"),
        (["--reuse-threshold", "256"], "--reuse-threshold must be between 0 and 255 (grey levels), not 256.0"),
        (["--size", "100000x100000"], "--size 100000x100000 is out of range: each side must be 16–8192 pixels"),
        (["--size", "8192x8192"], "--size 8192x8192 is out of range: at most 7680x4320 pixels in all (8K UHD)"),
        (["--window-size", "99999x10"], "--window-size 99999x10 is out of range: each side must be 100–8192 pixels"),
        (["--range=-2,0.3"], "--range takes cosines, between -1 and 1; got '-2,0.3'"),
        (["--threads", "300"], "--threads must be between 1 and 256"),
        // Zero, and numbers too large for an Int, are out of range like any other: not malformed.
        (["--size", "0x0"], "--size 0x0 is out of range: each side must be 16–8192 pixels"),
        (["--size", "0x100"], "--size 0x100 is out of range: each side must be 16–8192 pixels"),
        (
            ["--size", "99999999999999999999x100"],
            "--size 99999999999999999999x100 is out of range: each side must be 16–8192 pixels"
        ),
        (["--size", "-16x16"], "--size -16x16 is out of range: each side must be 16–8192 pixels"),
        (["--window-size", "0x0"], "--window-size 0x0 is out of range: each side must be 100–8192 pixels"),
        (
            ["--smooth", "99999999999999999999"],
            "--smooth must be between 1 and 1000 (scored frames), not 99999999999999999999"
        ),
        (
            ["--frames=-99999999999999999999"],
            "--frames must be between 1 and 1000000000 (frames), not -99999999999999999999"
        ),
        (["--queue", "18446744073709551616"], "--queue must be between 1 and 2 (frames), not 18446744073709551616"),
        (
            ["--threads", "99999999999999999999"],
            "--threads must be between 1 and 256 (threads), not 99999999999999999999"
        ),
        (["--range=1e39,2"], "--range takes cosines, between -1 and 1; got '1e39,2'"),
    ])
    func runRefusesOutOfRange(extra: [String], message: String) throws {
        let folder = try temporaryFolder("bounds")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.jsonl")
        let result = try Self.run(extra, output: output)
        #expect(result.status == 64, "\(extra): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(extra): \(result.stderr)")
        #expect(!result.stderr.contains("Missing value"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.path), "nothing is written on a bad command line")
    }

    /// The largest values in range run (no allocation the size of the value: the moving average keeps what it has
    /// seen, not its whole window, up front).
    @Test func theLargestSmoothingRuns() throws {
        let result = try Self.run(["--smooth", "1000", "--no-reuse"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((1...3).contains(try jsonLines(result.stdout).count), "\(result.stdout)")
    }

    @Test(arguments: [
        (["--threads", "0"], "--threads must be between 1 and 256 (threads), not 0"),
        (["--runs", "0"], "--runs must be between 1 and 10000 (timed runs), not 0"),
        (["--pipeline-frames", "-1"], "--pipeline-frames must be between 0 and 10000 (scored frames), not -1"),
        (["--pipeline-fps", "0"], "--pipeline-fps must be between 0.1 and 1000 (frames per second), not 0.0"),
        (["--startup-runs", "1000"], "--startup-runs must be between 0 and 100 (processes), not 1000"),
        (
            ["--runs", "99999999999999999999"],
            "--runs must be between 1 and 10000 (timed runs), not 99999999999999999999"
        ),
    ])
    func benchRefusesOutOfRange(extra: [String], message: String) throws {
        let result = try clipcam(["bench", "--shape", "tiny"] + extra)
        #expect(result.status == 64, "\(extra): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(extra): \(result.stderr)")
    }
}
