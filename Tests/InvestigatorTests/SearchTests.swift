import Capture
import Foundation
import Testing

/// `clipcam search` over three files: the scenes video (A 3 s, B 2 s, A 1 s), a video of A alone, and an image of
/// A.
@Suite struct SearchTests {
    @Test func theBSegmentRanksFirstForBsPrompt() throws {
        let folder = try temporaryFolder("search")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = folder.appendingPathComponent("cache")
        let library = folder.appendingPathComponent("library")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        let scenes = try Scenes.video([(Scenes.a, 3), (Scenes.b, 2), (Scenes.a, 1)], name: "aba.mkv", in: library)
        _ = try Scenes.video([(Scenes.a, 4)], name: "a-only.mkv", in: library)
        let image = library.appendingPathComponent("a.png").path
        try FileManager.default.copyItem(atPath: Scenes.a, toPath: image)
        let frames = try Scenes.frames(scenes)
        let engine = try fixtureEngine()
        let prompts = try Scenes.separatingPrompts(
            engine: engine, frameA: frames[0], frameB: frames[30], candidates: Scenes.candidates)
        let thumbnails = folder.appendingPathComponent("thumbs")
        try FileManager.default.createDirectory(at: thumbnails, withIntermediateDirectories: true)

        // The lowest threshold that still lets every file in: each file has a moment, ranked by peak.
        let search = ["search", prompts.b.text, library.path, "--raw", "--threshold", "-1", "--json"]
        let first = try clipcam(search + ["--thumbnails", thumbnails.path], cache: cache)
        try #require(first.status == 0, "\(first.stderr)")
        let object = try jsonObject(first.stdout)
        #expect(object["files"] as? Int == 3)
        // At 1 frame/s: 6 + 4 frames of the videos and the image.
        #expect(object["encoded_frames"] as? Int == 11)
        let moments = try #require(object["moments"] as? [[String: Any]])
        try #require(moments.count >= 3)
        #expect(moments[0]["file"] as? String == scenes, "\(moments[0])")

        // With the threshold between the scenes, the B segment is the one moment: 3 s to 5 s at 1 frame/s.
        let threshold = (prompts.b.onA + prompts.b.onB) / 2
        let second = try clipcam(
            ["search", prompts.b.text, library.path, "--raw", "--threshold", "\(threshold)", "--json"], cache: cache)
        try #require(second.status == 0, "\(second.stderr)")
        let again = try jsonObject(second.stdout)
        #expect(again["encoded_frames"] as? Int == 0, "the second search encodes nothing")
        let best = try #require((again["moments"] as? [[String: Any]]))
        try #require(best.count == 1, "\(best)")
        #expect(best[0]["file"] as? String == scenes)
        #expect(abs((best[0]["start"] as? Double ?? -1) - 3) <= 1 && abs((best[0]["end"] as? Double ?? -1) - 5) <= 1)

        // The thumbnail of the best moment is B's frame at the peak, as ffmpeg decodes it.
        let thumbnail = try #require(moments[0]["thumbnail"] as? String)
        let picture = try ImageFile.load(thumbnail)
        let peak = try #require(moments[0]["peak_time"] as? Double)
        let expected = frames[Int((peak * 10).rounded())]
        #expect(picture.width == expected.width && picture.height == expected.height)
        #expect(picture.bgr == expected.bgr)
    }
}
