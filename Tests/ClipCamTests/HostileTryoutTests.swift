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
}

private func mkdir(bytes path: [UInt8]) -> Bool {
    SystemPath(bytes: path).withCString { Glibc.mkdir($0, 0o755) } == 0
}
