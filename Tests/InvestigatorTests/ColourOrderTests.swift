import Classifier
import ClipCamKit
import Foundation
import Testing

@testable import Investigator

/// A red frame reaches the model as red: ffmpeg's BGR frames are turned into CLIP's RGB input on the analysis's
/// decoder thread (a web app this tool replaces fed BGR to CLIP, so red arrived as blue).
@Suite struct ColourOrderTests {
    @Test func aRedFrameReachesTheModelAsRed() throws {
        let folder = try temporaryFolder("red")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = folder.appendingPathComponent("red.mkv").path
        let made = try runProcess(
            URL(fileURLWithPath: "/usr/bin/ffmpeg"),
            [
                "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=0xFF0000:s=64x48:r=5:d=1", "-c:v",
                "ffv1", "-pix_fmt", "bgr0", video,
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let size = 32
        let decoder = SampledDecoder(
            path: video, sampling: .allFrames, info: try VideoInfo.probe(video), startSample: 0,
            preprocessor: ImagePreprocessor(size: size))
        decoder.start()
        defer { decoder.stop() }
        let sample = try #require(try decoder.next())
        let pixels = try #require(sample.pixels)
        #expect(pixels.count == 3 * size * size)
        // Channel-first RGB, normalised with CLIP's mean and std: red 1, green 0, blue 0 everywhere, within the 3
        // levels of 255 that lavfi's YUV colour source costs (0.05 after the std; red read as blue would be off by 3).
        let expected: [Float] = [
            (1 - 0.481_454_66) / 0.268_629_54, (0 - 0.457_827_5) / 0.261_302_58, (0 - 0.408_210_73) / 0.275_777_11,
        ]
        for channel in 0..<3 {
            let plane = pixels[(channel * size * size)..<((channel + 1) * size * size)]
            #expect(plane.allSatisfy { abs($0 - expected[channel]) < 0.05 }, "channel \(channel): \(plane.first!)")
        }
    }
}
